import numpy as np

from fast3dcnn_qgis.core.patches import PatchDataset, add_spectral_noise, extract_patches


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


def test_spectral_noise_keeps_shape_and_centre_and_only_adds_noise(salinas):
    _, _, _, _, patches = _salinas_patches(salinas)
    noisy = add_spectral_noise(patches, np.random.default_rng(0), 0.2)
    assert noisy.shape == patches.shape and noisy.dtype == np.float32
    assert abs((noisy - patches).std() - 0.2) < 0.01 and abs((noisy - patches).mean()) < 0.01


def test_noise_leaves_the_batch_order_and_targets_as_they_were(salinas):
    cube, rows, cols, y, _ = _salinas_patches(salinas, n=200)
    plain = PatchDataset(cube, rows, cols, y, 9, 32, shuffle=True, seed=3)
    noisy = PatchDataset(cube, rows, cols, y, 9, 32, shuffle=True, seed=3, noise=0.1)
    for _ in range(2):
        for i in range(len(plain)):
            (x, t), (xn, tn) = plain[i], noisy[i]
            assert np.array_equal(t, tn) and xn.shape == x.shape
            assert 0.09 < (xn - x).std() < 0.11  # the same patches, with fresh noise
        plain.on_epoch_end(), noisy.on_epoch_end()
    assert not np.array_equal(noisy[0][0], noisy[0][0])


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
