"""Demo and test data: a demo catalogue, realistic case packages and broken packages.

* ``catalog`` — the demo fonds and service items (also used by the quickstart);
* ``generator.generate`` / ``build_case`` — consistent cases with real PDF, OFD, JPEG, WAV, MP4 files;
* ``broken.write_broken_variants`` — one package per defect the checker must catch;
* ``command.demo_data`` — the ``dangan demo-data`` click command.
"""
