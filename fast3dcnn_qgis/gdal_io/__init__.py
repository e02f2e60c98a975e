"""GDAL and OGR at the plugin's edge: rasters read in blocks, class maps written and styled, ground
truth rasterised onto the scene's grid, bands matched by wavelength, MATLAB files read."""
