import numpy as np

from fast3dcnn_qgis.core.patches import PatchDataset, augment_patches, extract_patches


def _cube():
    return np.arange(6 * 7 * 2, dtype=np.float32).reshape(6, 7, 2) + 1


def test_patches_are_centred_and_zero_padded():
    cube = _cube()
    patches = extract_patches(cube, [2, 0], [3, 6], 3)
    assert patches.shape == (2, 3, 3, 2)
    assert np.array_equal(patches[0], cube[1:4, 2:5])
    padded = np.pad(cube, ((1, 1), (1, 1), (0, 0)))
    assert np.array_equal(patches[1], padded[0:3, 6:9])
    assert (patches[1][0] == 0).all() and (patches[1][:, 2] == 0).all()


def test_reflect_padding_matches_numpy():
    cube = _cube()
    padded = np.pad(cube, ((5, 5), (5, 5), (0, 0)), mode="reflect")
    patches = extract_patches(cube, [0, 5, 3], [0, 6, 2], 11, "reflect")
    for patch, (r, c) in zip(patches, [(0, 0), (5, 6), (3, 2)]):
        assert np.array_equal(patch, padded[r:r + 11, c:c + 11])


def test_patches_work_on_a_memory_mapped_cube(tmp_path):
    cube = _cube()
    mapped = np.lib.format.open_memmap(tmp_path / "cube.npy", mode="w+", dtype=np.float32, shape=cube.shape)
    mapped[:] = cube
    assert np.array_equal(extract_patches(mapped, [1, 4], [1, 5], 5), extract_patches(cube, [1, 4], [1, 5], 5))


def test_dataset_batches_cover_each_pixel_once_per_epoch_in_seeded_order():
    cube = _cube()
    rows, cols = np.nonzero(np.ones(cube.shape[:2]))
    targets = np.arange(len(rows))
    first = PatchDataset(cube, rows, cols, targets, window=3, batch_size=8, shuffle=True, seed=4)
    second = PatchDataset(cube, rows, cols, targets, window=3, batch_size=8, shuffle=True, seed=4)
    assert len(first) == 6
    seen = np.concatenate([first[i][1] for i in range(len(first))])
    assert sorted(seen) == list(targets) and list(seen) != list(targets)
    assert list(seen) == list(np.concatenate([second[i][1] for i in range(len(second))]))
    x, y = first[0]
    assert x.shape == (8, 3, 3, 2, 1) and x.dtype == np.float32
    assert np.array_equal(x[0, 1, 1, :, 0], cube[rows[y[0]], cols[y[0]]])
    first.on_epoch_end()
    assert list(np.concatenate([first[i][1] for i in range(len(first))])) != list(seen)


def _salinas_patches(salinas, n=64, window=9):
    from fast3dcnn_qgis.core.splits import labelled_pixels
    cube, labels = salinas
    rows, cols, y = labelled_pixels(labels)
    pick = np.random.default_rng(0).choice(len(rows), n, replace=False)
    scaled = (cube[..., :20] / 1000.0).astype(np.float32)
    return scaled, rows[pick], cols[pick], y[pick], extract_patches(scaled, rows[pick], cols[pick], window)


def test_flips_and_masking_keep_the_centre_spectrum_and_the_shape(salinas):
    _, _, _, _, patches = _salinas_patches(salinas)
    altered = augment_patches(patches, np.random.default_rng(1), flip=True, mask=0.5)
    assert altered.shape == patches.shape and altered.dtype == np.float32
    assert np.array_equal(altered[:, 4, 4], patches[:, 4, 4])
    dihedral = [np.rot90(p, k, axes=(1, 2)) for p in (patches, patches[:, :, ::-1]) for k in range(4)]
    flipped = augment_patches(patches, np.random.default_rng(1), flip=True)
    matches = [[np.array_equal(flipped[i], d[i]) for d in dihedral] for i in range(len(patches))]
    assert all(any(m) for m in matches)  # each patch is one of its own 8 flips and turns
    assert len({m.index(True) for m in matches}) == 8  # and all 8 occur
    masked = augment_patches(patches, np.random.default_rng(2), mask=0.5)
    zeroed = (masked == 0).all(axis=-1) & (patches != 0).any(axis=-1)
    assert 0.4 < zeroed.mean() < 0.6 and not zeroed[:, 4, 4].any()
    assert np.array_equal(masked[~zeroed], patches[~zeroed])


def test_spectral_noise_is_added_around_the_values(salinas):
    _, _, _, _, patches = _salinas_patches(salinas)
    noisy = augment_patches(patches, np.random.default_rng(0), noise=0.2)
    assert abs((noisy - patches).std() - 0.2) < 0.01 and abs((noisy - patches).mean()) < 0.01


def test_augmentation_leaves_the_batch_order_and_centres_as_they_were(salinas):
    cube, rows, cols, y, _ = _salinas_patches(salinas, n=200)
    plain = PatchDataset(cube, rows, cols, y, 9, 32, shuffle=True, seed=3)
    augmented = PatchDataset(cube, rows, cols, y, 9, 32, shuffle=True, seed=3, augment={"flip": True, "mask": 0.3})
    for _ in range(2):
        for i in range(len(plain)):
            (x, t), (xa, ta) = plain[i], augmented[i]
            assert np.array_equal(t, ta) and np.array_equal(x[:, 4, 4], xa[:, 4, 4])
        plain.on_epoch_end(), augmented.on_epoch_end()


def test_without_augmentation_the_batches_are_those_of_the_seeded_shuffle(salinas):
    """The paper recipe's batches: the generator's shuffles, one at the start and one per epoch, as
    before augmentation existed."""
    cube, rows, cols, y, _ = _salinas_patches(salinas, n=100)
    dataset = PatchDataset(cube, rows, cols, y, 9, 40, shuffle=True, seed=7)
    rng, order = np.random.default_rng(7), np.arange(100)
    for _ in range(3):
        rng.shuffle(order)
        for i in range(len(dataset)):
            pick = order[i * 40:(i + 1) * 40]
            x, t = dataset[i]
            assert np.array_equal(t, y[pick])
            assert np.array_equal(x[..., 0], extract_patches(cube, rows[pick], cols[pick], 9))
        dataset.on_epoch_end()
