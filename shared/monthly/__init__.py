"""The monthly job: read a month of runs and the static sites, compute, write blobs and the report."""
