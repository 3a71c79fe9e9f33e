"""RQ jobs. Every job takes ids (JSON primitives), loads its own state, and runs inside the
app context that ``hub worker`` (or a test's worker) pushes."""
