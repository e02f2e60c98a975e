"""Reading scenes as core blocks and writing class maps that open coloured and named."""
import os

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsPalettedRasterRenderer, QgsRasterLayer

import helpers
from fast3dcnn_qgis.core.classes import ClassTable
from fast3dcnn_qgis.gdal_io.writing import ClassMapWriter, confidence_writer
from fast3dcnn_qgis.gdal_io.reading import (HALO_CACHE_BYTES, count_blocks, empty_bands, open_raster, raster_info,
                                            read_blocks)


@pytest.mark.parametrize("cache_bytes", [0, HALO_CACHE_BYTES])
def test_blocks_with_halo_tile_the_scene_exactly(salinas, cache_bytes):
    dataset = open_raster(salinas[0])
    cube = np.moveaxis(dataset.ReadAsArray(), 0, -1)
    info = raster_info(dataset)
    halo = 4
    blocks = list(read_blocks(dataset, halo, max_pixels=30 * 30, cache_bytes=cache_bytes))
    assert len(blocks) == count_blocks(info, halo, max_pixels=30 * 30) > 1
    covered = np.zeros(cube.shape[:2], dtype=int)
    for block in blocks:
        top, bottom, left, right = block.halo
        rows, cols = block.shape
        window = cube[block.row - top:block.row + rows + bottom, block.col - left:block.col + cols + right]
        np.testing.assert_array_equal(block.data, window)
        assert top == min(halo, block.row) and left == min(halo, block.col)
        covered[block.row:block.row + rows, block.col:block.col + cols] += 1
    assert (covered == 1).all()


def test_blocks_with_halo_share_a_bounded_gdal_cache_and_leave_its_bound_as_it_was(salinas):
    dataset = open_raster(salinas[0])
    own = gdal.GetCacheMax()
    try:
        gdal.SetCacheMax(2 * HALO_CACHE_BYTES)
        used = gdal.GetCacheUsed()
        first, second = (read_blocks(dataset, 4, max_pixels=30 * 30, cache_bytes=HALO_CACHE_BYTES) for _ in range(2))
        next(first)
        assert gdal.GetCacheMax() == HALO_CACHE_BYTES and gdal.GetCacheUsed() > used
        next(second)  # two readers at once (two classifications): the bound is put back after the last
        first.close()
        assert gdal.GetCacheMax() == HALO_CACHE_BYTES
        assert len(list(second)) == count_blocks(raster_info(dataset), 4, max_pixels=30 * 30) - 1
        assert gdal.GetCacheMax() == 2 * HALO_CACHE_BYTES and gdal.GetCacheUsed() <= used
        # A smaller bound, set by the analyst, stays.
        gdal.SetCacheMax(HALO_CACHE_BYTES // 4)
        reader = read_blocks(dataset, 4, max_pixels=30 * 30, cache_bytes=HALO_CACHE_BYTES)
        next(reader)
        assert gdal.GetCacheMax() == HALO_CACHE_BYTES // 4
        reader.close()
        # Blocks without a halo, or without a cache asked for, leave nothing in the cache.
        for blocks in (read_blocks(dataset, max_bytes=224 * 2 * 86 * 10, cache_bytes=HALO_CACHE_BYTES),
                       read_blocks(dataset, 4, max_pixels=30 * 30)):
            next(blocks)
            assert gdal.GetCacheMax() == HALO_CACHE_BYTES // 4 and gdal.GetCacheUsed() <= used
    finally:
        gdal.SetCacheMax(own)


def test_blocks_respect_the_memory_budget(salinas):
    dataset = open_raster(salinas[0])
    budget = 224 * 2 * 86 * 10  # ten rows of 86 pixels x 224 int16 bands
    blocks = list(read_blocks(dataset, max_bytes=budget))
    assert all(block.data.nbytes <= budget for block in blocks)
    assert [b.row for b in blocks] == list(range(0, 83, 10))


def test_bands_holding_only_nodata_are_found(salinas, tmp_path):
    path = tmp_path / "bad_bands.tif"
    gdal.Translate(str(path), str(salinas[0]), bandList=list(range(1, 31)), outputType=gdal.GDT_Float32,
                   noData=-32768)
    dataset = gdal.Open(str(path), gdal.GA_Update)
    for band in (3, 17, 18):
        dataset.GetRasterBand(band).Fill(-32768)
    dataset.GetRasterBand(20).Fill(float("nan"))
    dataset = None
    assert empty_bands(open_raster(path)) == [2, 16, 17, 19]


@pytest.mark.parametrize("top_id, data_type", [(14, gdal.GDT_Byte), (300, gdal.GDT_UInt16)])
def test_class_map_is_typed_coloured_named_and_styled(salinas, tmp_path, top_id, data_type):
    cube, _ = salinas
    georeferenced = helpers.georeferenced_copy(cube, tmp_path / "scene.tif", bandList=[1])
    info = raster_info(open_raster(georeferenced))
    labels = np.zeros((info.height, info.width), dtype=np.int64)
    labels[:40] = 1
    labels[40:] = top_id
    labels[0, 0] = 0
    path = tmp_path / "map.tif"
    with ClassMapWriter(path, info, ClassTable.from_ids([1, top_id], {1: "water", top_id: "forest"}, {1: "#0000ff"})) as writer:
        writer.write(0, 0, labels[:50])
        writer.write(50, 0, labels[50:])
        assert not path.exists()
        writer.commit()
    assert sorted(os.listdir(tmp_path)) == ["map.qml", "map.tif", "map.tif.aux.xml", "scene.tif"]
    dataset = gdal.Open(str(path))
    band = dataset.GetRasterBand(1)
    assert band.DataType == data_type and band.GetNoDataValue() == 0
    np.testing.assert_array_equal(band.ReadAsArray(), labels)
    assert dataset.GetGeoTransform() == helpers.GEOTRANSFORM
    assert dataset.GetProjection() == open_raster(georeferenced).GetProjection()
    assert band.GetRasterColorTable().GetColorEntry(1) == (0, 0, 255, 255)
    assert band.GetRasterColorTable().GetColorEntry(0)[3] == 0
    assert band.GetRasterCategoryNames()[top_id] == "forest"
    layer = QgsRasterLayer(str(path))
    renderer = layer.renderer()
    assert isinstance(renderer, QgsPalettedRasterRenderer)
    assert {(c.value, c.label, c.color.name()) for c in renderer.classes()} == {
        (1, "water", "#0000ff"), (top_id, "forest", renderer.classes()[1].color.name())}


def test_a_failed_write_leaves_nothing(salinas, tmp_path):
    info = raster_info(open_raster(salinas[0]))
    with pytest.raises(RuntimeError):
        with ClassMapWriter(tmp_path / "map.tif", info, ClassTable.from_ids([1, 2])) as classes, \
                confidence_writer(tmp_path / "confidence.tif", info) as confidence:
            classes.write(0, 0, np.ones((10, info.width)))
            confidence.write(0, 0, np.ones((10, info.width)))
            raise RuntimeError("cancelled half way")
    assert os.listdir(tmp_path) == []


def test_class_map_of_a_bare_pixel_grid_stays_without_georeferencing(salinas, tmp_path):
    info = raster_info(open_raster(salinas[0]))
    assert not info.georeferenced
    with ClassMapWriter(tmp_path / "map.tif", info, ClassTable.from_ids([1])) as writer:
        writer.write(0, 0, np.ones((info.height, info.width)))
        writer.commit()
    dataset = gdal.Open(str(tmp_path / "map.tif"))
    assert dataset.GetGeoTransform(can_return_null=True) is None and dataset.GetProjection() == ""
