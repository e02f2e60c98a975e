"""Ground truth onto the input raster's exact grid: vectors reprojected and rasterised, label rasters
checked or aligned, and clear errors for the ways this goes wrong."""
import numpy as np
import pytest
from osgeo import gdal, ogr
from qgis.core import QgsCoordinateTransformContext, QgsRasterLayer, QgsVectorLayer

import helpers
from fast3dcnn_qgis.gdal_io.ground_truth import GroundTruthError, read_ground_truth
from fast3dcnn_qgis.gdal_io.reading import open_raster, raster_info


@pytest.fixture(scope="module")
def utm(salinas, tmp_path_factory):
    """Salinas-A and its labels in UTM 10N, and the labels as polygons in WGS 84 (another CRS)."""
    folder = tmp_path_factory.mktemp("utm")
    cube, labels = salinas
    raster = helpers.georeferenced_copy(cube, folder / "salinas_utm.tif", bandList=[1, 50, 100])
    label_raster = helpers.georeferenced_copy(labels, folder / "labels_utm.tif")
    polygons = helpers.label_polygons(label_raster, folder / "labels_wgs84.gpkg")
    return raster_info(open_raster(raster)), helpers.read(label_raster), label_raster, polygons


def vector(path, name="ground_truth"):
    layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
    assert layer.isValid()
    return layer


def test_polygons_in_another_crs_land_on_their_pixels(utm):
    info, labels, _, polygons = utm
    layer = vector(polygons)
    assert layer.crs().authid() == "EPSG:4326"
    truth = read_ground_truth(layer, info, "class_id", QgsCoordinateTransformContext())
    assert truth.grid.shape == labels.shape
    assert np.mean(truth.grid == labels) > 0.999
    assert truth.class_counts() == {c: int((labels == c).sum()) for c in helpers.NAMES}


def test_polygons_come_in_fields_points_and_label_rasters_do_not(utm, tmp_path):
    """What the default split holds out: whole fields where the analyst drew them, areas elsewhere."""
    info, labels, label_raster, polygons = utm
    assert read_ground_truth(vector(polygons), info, "class_id").fields
    assert not read_ground_truth(QgsRasterLayer(str(label_raster), "labels"), info).fields
    x0, dx, _, y0, _, dy = info.geotransform
    path = tmp_path / "points.gpkg"
    source = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = source.CreateLayer("points", srs=helpers.srs(helpers.UTM_EPSG))
    layer.CreateField(ogr.FieldDefn("cls", ogr.OFTInteger))
    for row, col in zip(*np.nonzero(labels[::7, ::7])):
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("cls", int(labels[row * 7, col * 7]))
        feature.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT({x0 + (col * 7 + 0.5) * dx} {y0 + (row * 7 + 0.5) * dy})"))
        layer.CreateFeature(feature)
    source = None
    truth = read_ground_truth(vector(path, "points"), info, "cls")
    assert not truth.fields and truth.class_counts() == {c: int((labels[::7, ::7] == c).sum()) for c in helpers.NAMES}


def test_text_names_become_sorted_ids_and_are_kept(utm):
    info, labels, _, polygons = utm
    truth = read_ground_truth(vector(polygons), info, "name")
    names = sorted(helpers.NAMES.values())
    assert truth.classes.names == {i: name for i, name in enumerate(names, start=1)}
    for class_id, name in helpers.NAMES.items():
        new_id = names.index(name) + 1
        assert np.mean(truth.grid[labels == class_id] == new_id) > 0.999


def test_smaller_polygon_and_points_win_where_features_overlap(utm, tmp_path):
    info = utm[0]
    x0, dx, _, y0, _, dy = info.geotransform
    path = tmp_path / "overlap.gpkg"
    source = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = source.CreateLayer("overlap", srs=helpers.srs(helpers.UTM_EPSG))
    layer.CreateField(ogr.FieldDefn("cls", ogr.OFTInteger))

    def box(col0, row0, col1, row1):
        return (f"POLYGON(({x0 + col0 * dx} {y0 + row0 * dy},{x0 + col1 * dx} {y0 + row0 * dy},"
                f"{x0 + col1 * dx} {y0 + row1 * dy},{x0 + col0 * dx} {y0 + row1 * dy},{x0 + col0 * dx} {y0 + row0 * dy}))")

    # Written small first, so the rule, not the file order, decides.
    for cls, wkt in ((2, box(10, 10, 20, 20)), (1, box(0, 0, 40, 40)),
                     (3, f"POINT({x0 + 15.5 * dx} {y0 + 15.5 * dy})"), (None, box(50, 50, 60, 60))):
        feature = ogr.Feature(layer.GetLayerDefn())
        if cls is not None:
            feature.SetField("cls", cls)
        feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        layer.CreateFeature(feature)
    source = None
    warnings = []
    truth = read_ground_truth(vector(path, "overlap"), info, "cls", warn=warnings.append)
    assert truth.grid[5, 5] == 1 and truth.grid[12, 12] == 2 and truth.grid[15, 15] == 3
    assert truth.class_counts() == {1: 40 * 40 - 100, 2: 100 - 1, 3: 1}
    assert truth.grid[55, 55] == 0
    assert any("1 features" in w and "NULL" in w for w in warnings)


def test_missing_class_field_names_the_fields(utm):
    info, _, _, polygons = utm
    for field in (None, "klass"):
        with pytest.raises(GroundTruthError, match=r"CLASS_FIELD.*class_id, name"):
            read_ground_truth(vector(polygons), info, field)


def test_vector_outside_the_raster_is_refused(utm, tmp_path):
    info = utm[0]
    far = tmp_path / "far.gpkg"
    source = ogr.GetDriverByName("GPKG").CreateDataSource(str(far))
    layer = source.CreateLayer("far", srs=helpers.srs(4326))
    layer.CreateField(ogr.FieldDefn("class_id", ogr.OFTInteger))
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetField("class_id", 1)
    feature.SetGeometry(ogr.CreateGeometryFromWkt("POLYGON((0 0,1 0,1 1,0 1,0 0))"))
    layer.CreateFeature(feature)
    source = None
    with pytest.raises(GroundTruthError, match="overlaps the input raster.*EPSG:4326"):
        read_ground_truth(vector(far, "far"), info, "class_id")


def test_one_class_is_refused(utm, tmp_path):
    info, labels, label_raster, _ = utm
    single = helpers.write_labels(tmp_path / "single.tif", np.where(labels == 10, 10, 0), label_raster)
    truth = read_ground_truth(QgsRasterLayer(str(single)), info)
    with pytest.raises(GroundTruthError, match=r"only 1 class .*10.*at least 2"):
        truth.require_classes(2)


def test_label_raster_on_another_grid_is_aligned_with_a_warning(utm, tmp_path):
    info, labels, label_raster, _ = utm
    # The same labels at half the resolution: every input pixel falls in the coarse pixel holding it.
    coarse = tmp_path / "coarse.tif"
    gdal.Translate(str(coarse), str(label_raster), xRes=7.4, yRes=7.4, resampleAlg="near")
    warnings = []
    truth = read_ground_truth(QgsRasterLayer(str(coarse)), info, warn=warnings.append)
    assert truth.grid.shape == labels.shape
    assert any("nearest neighbour" in w for w in warnings)
    assert np.mean(truth.grid[labels > 0] == labels[labels > 0]) > 0.9


def test_label_raster_of_another_size_without_georeferencing_is_refused(salinas, tmp_path):
    cube, labels = salinas
    info = raster_info(open_raster(cube))
    small = tmp_path / "small.tif"
    gdal.Translate(str(small), str(labels), srcWin=[0, 0, 40, 40])
    with pytest.raises(GroundTruthError, match="40 x 40 pixels but the input raster has 86 x 83"):
        read_ground_truth(QgsRasterLayer(str(small)), info)


def test_label_raster_colours_and_names_are_kept(utm, tmp_path):
    info, labels, label_raster, _ = utm
    styled = tmp_path / "styled.tif"
    gdal.Translate(str(styled), str(label_raster))
    dataset = gdal.Open(str(styled), gdal.GA_Update)
    table = gdal.ColorTable()
    table.SetColorEntry(10, (255, 0, 0, 255))
    dataset.GetRasterBand(1).SetRasterColorTable(table)
    dataset.GetRasterBand(1).SetRasterCategoryNames([""] * 10 + ["Corn"])
    dataset = None
    truth = read_ground_truth(QgsRasterLayer(str(styled)), info)
    assert truth.classes.color(10) == "#ff0000"
    assert truth.classes.names == {10: "Corn"}
