import os

import numpy as np
import pytest
from PIL import Image

from gan_tf import data
from gan_tf.errors import UserError


def test_mnist_5k_is_5000_labelled_digits_with_500_per_class():
    image_set = data.load("mnist-5k")
    assert image_set.images.shape == (5000, 28, 28, 1) and image_set.images.dtype == np.uint8
    assert np.bincount(image_set.labels).tolist() == [500] * 10
    assert image_set.images.max() == 255


def test_pipeline_is_shuffled_batched_and_in_model_range():
    image_set = data.load("mnist-5k")
    batch_images, batch_labels = next(iter(data.to_dataset(image_set, 64, seed=1, with_labels=True)))
    assert batch_images.shape == (64, 28, 28, 1)
    assert -1.0 <= float(np.min(batch_images)) and float(np.max(batch_images)) <= 1.0
    assert len(set(np.asarray(batch_labels).tolist())) > 3  # sorted on disk, shuffled here


def test_same_seed_same_order():
    image_set = data.load("mnist-5k")
    first = [next(iter(data.to_dataset(image_set, 8, seed=3))).numpy() for _ in range(2)]
    np.testing.assert_array_equal(first[0], first[1])


def test_resize_and_channels_are_applied():
    image_set = data.load("mnist-5k", image_size=32, channels=3)
    assert image_set.images.shape == (5000, 32, 32, 3)


def _write_pictures(folder, count, size=(40, 30), mode="RGB"):
    rng = np.random.default_rng(0)
    for index in range(count):
        sub = folder / ("nested" if index % 2 else "")
        sub.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels, "RGB").convert(mode).save(sub / f"picture_{index}.png")


def test_folder_is_searched_recursively_center_cropped_and_resized(tmp_path):
    _write_pictures(tmp_path, 5)
    image_set = data.load(str(tmp_path), image_size=32, channels=3)
    assert image_set.images.shape == (5, 32, 32, 3)
    gray = data.load(str(tmp_path), image_size=28, channels=1)
    assert gray.images.shape == (5, 28, 28, 1)


def test_corrupt_image_is_skipped_with_one_warning_that_counts(tmp_path):
    _write_pictures(tmp_path, 4)
    (tmp_path / "broken.jpg").write_bytes(b"this is not a jpeg")
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image file"):
        image_set = data.load(str(tmp_path), image_size=28, channels=1)
    assert len(image_set.images) == 4


def test_empty_folder_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("no pictures here")
    with pytest.raises(UserError, match="no images found"):
        data.load(str(tmp_path))


def test_npz_and_npy_files(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    np.savez(tmp_path / "set.npz", x=images, y=np.arange(6))
    loaded = data.load(str(tmp_path / "set.npz"))
    assert loaded.images.shape == (6, 28, 28, 1) and loaded.labels.tolist() == list(range(6))
    np.save(tmp_path / "floats.npy", images.astype(np.float32) / 255.0)
    np.testing.assert_array_equal(data.load(str(tmp_path / "floats.npy")).images[..., 0], images)


@pytest.mark.parametrize("array, message", [
    (np.zeros((3, 5)), "expected images shaped"),
    (np.full((2, 8, 8), 3.0, np.float32), "must be in"),
])
def test_bad_arrays_are_explained(tmp_path, array, message):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(UserError, match=message):
        data.load(str(tmp_path / "bad.npy"))


def test_unknown_name_and_missing_path():
    with pytest.raises(UserError, match="mnist-5k"):
        data.load("mnist5k")
    with pytest.raises(UserError, match="no such file or folder"):
        data.load(os.path.join("no", "such", "folder"))


def test_download_failure_names_the_offline_options(monkeypatch):
    import keras

    def offline():
        raise Exception("URL fetch failure: [Errno -2] Name or service not known")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(UserError, match=r"could not download 'fashion_mnist'.*mnist-5k.*--dataset PATH"):
        data.load("fashion_mnist")


def test_batch_larger_than_data_is_explained():
    image_set = data.ImageSet(np.zeros((4, 28, 28, 1), np.uint8), None, "four")
    with pytest.raises(UserError, match="--batch-size"):
        data.to_dataset(image_set, 8)


def test_mnist_m_blend_is_the_absolute_difference_with_a_photograph_crop():
    digits = np.zeros((3, 4, 4, 1), np.uint8)
    digits[:, 1:3, 1:3] = 255
    photograph = np.full((6, 8, 3), (10, 200, 60), np.uint8)
    blended = data.blend_with_photographs(digits, [photograph], seed=0)
    assert blended.shape == (3, 4, 4, 3) and blended.dtype == np.uint8
    np.testing.assert_array_equal(blended[:, 0, 0], [[10, 200, 60]] * 3)       # background: the photograph
    np.testing.assert_array_equal(blended[:, 1, 1], [[245, 55, 195]] * 3)      # stroke: its inverse


def test_mnist_m_5k_keeps_the_digits_labels_and_is_cached(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "CACHE_DIR", str(tmp_path))
    built = data.load("mnist-m-5k")
    digits = data.load("mnist-5k")
    assert built.images.shape == (5000, 28, 28, 3) and built.name == "mnist-m-5k"
    np.testing.assert_array_equal(built.labels, digits.labels)
    cached, = list(tmp_path.iterdir())
    monkeypatch.setattr(data, "photographs", lambda: pytest.fail("the cache was not used"))
    np.testing.assert_array_equal(data.load("mnist-m-5k").images, built.images)
    np.savez(cached, images=np.zeros((3, 28, 28, 3), np.uint8), labels=np.zeros(3))  # stale or foreign
    monkeypatch.undo()
    monkeypatch.setattr(data, "CACHE_DIR", str(tmp_path))
    np.testing.assert_array_equal(data.load("mnist-m-5k").images, built.images)


def test_class_subfolders_give_sorted_labels(tmp_path):
    for name, count in (("zebra", 2), ("ant", 3)):
        (tmp_path / name).mkdir()
        _write_pictures(tmp_path / name, count)
    image_set = data.load(str(tmp_path), image_size=16)
    assert image_set.class_names == ("ant", "zebra")
    assert sorted(image_set.labels.tolist()) == [0, 0, 0, 1, 1]
    assert data.load(str(tmp_path / "ant"), image_size=16).labels is None  # pictures only: no classes


def test_the_epoch_keyed_order_is_a_fresh_permutation_per_epoch_and_resumes_where_it_left_off():
    from gan_tf.data import ImageSet, to_dataset

    images = np.arange(40, dtype=np.uint8).reshape(40, 1, 1, 1)
    image_set = ImageSet(images, np.arange(40) % 10, "ramp")

    def ids(dataset):  # pixel values back to the image index
        return [np.round((np.asarray(batch[0]) + 1.0) * 127.5).astype(int).ravel().tolist() for batch in dataset]

    run = ids(to_dataset(image_set, 8, seed=3, with_labels=True, epochs=3))
    assert len(run) == 3 * 5
    epochs = [sorted(sum(run[5 * epoch:5 * epoch + 5], [])) for epoch in range(3)]
    assert epochs == [list(range(40))] * 3  # every image once per epoch
    assert run[:5] != run[5:10]  # reshuffled
    assert ids(to_dataset(image_set, 8, seed=3, with_labels=True, epochs=3, first_epoch=2)) == run[10:]
    assert ids(to_dataset(image_set, 8, seed=4, with_labels=True, epochs=1)) != run[:5]
    labels = [np.asarray(batch[1]).tolist() for batch in to_dataset(image_set, 8, seed=3, with_labels=True, epochs=1)]
    assert [[index % 10 for index in batch] for batch in run[:5]] == labels
