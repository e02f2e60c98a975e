"""The benchmark scenes of the paper, found in a data folder laid out like ../shared/data.

Each entry knows its .mat files and keys, and the bands the paper removes (Salinas-A is published
uncorrected with 224 bands; the paper uses the 204-band corrected form).
"""
import os
from dataclasses import dataclass

from fast3dcnn_qgis.gdal_io.matfile import read_image


@dataclass(frozen=True)
class Scene:
    name: str
    cube: tuple      # (relative path, key)
    labels: tuple
    exclude_bands: str = ""

    def present(self, data):
        return all(os.path.isfile(os.path.join(data, p)) for p, _ in (self.cube, self.labels))

    def load(self, data):
        """(cube (H, W, L), labels (H, W))."""
        return (read_image(os.path.join(data, self.cube[0]), self.cube[1])[1],
                read_image(os.path.join(data, self.labels[0]), self.labels[1])[1])


SCENES = {scene.name: scene for scene in (
    Scene("indian_pines", ("indian_pines/Indian_pines_corrected.mat", "indian_pines_corrected"),
          ("indian_pines/Indian_pines_gt.mat", "indian_pines_gt")),
    Scene("salinas_a", ("salinas_a/SalinasA.mat", "salinasA"), ("salinas_a/SalinasA_gt.mat", "salinasA_gt"),
          exclude_bands="108-112,154-167,224"),
    Scene("salinas", ("salinas/Salinas_corrected.mat", "salinas_corrected"),
          ("salinas/Salinas_gt.mat", "salinas_gt")),
    Scene("pavia_university", ("pavia_university/PaviaU.mat", "paviaU"),
          ("pavia_university/PaviaU_gt.mat", "paviaU_gt")),
)}
