"""The pieces of `dg-infill`, the headless batch CLI: files, holes, filling, writing, reporting."""
