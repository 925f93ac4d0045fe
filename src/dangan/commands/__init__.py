"""``dangan`` sub-commands kept in their own modules (click objects registered in :mod:`dangan.cli`)."""
