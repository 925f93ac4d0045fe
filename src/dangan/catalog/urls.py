from django.urls import path

from dangan.catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.items, name="items"),
    path("items/<int:pk>/", views.item, name="item"),
    path("items/<int:pk>/retention/", views.change_retention, name="item-retention"),
    path("items/<int:pk>/scope/", views.scope_material, name="item-scope"),
    path("items/<int:pk>/scope/remove/", views.scope_remove, name="item-scope-remove"),
    path("items/<int:pk>/class/", views.item_class, name="item-class"),
    path("items/<int:pk>/gap/", views.item_gap, name="item-gap"),
    path("classes/", views.classes, name="classes"),
    path("classes/<int:pk>/", views.class_edit, name="class-edit"),
    path("codes/", views.codes, name="codes"),
    path("workbook/", views.workbook, name="workbook"),
    path("workbook/schedule.xlsx", views.export, name="export"),
]
