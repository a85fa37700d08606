"""Hostile training data (issue 15 item 7): each bad file is skipped with a counted warning or refused
with one line, never a crash and never a silently wrong picture. Fixtures are 8x8 images made here;
loading at image_size=8 copies pixels unchanged, so the tests compare exact values."""

import os
import struct
import time
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile, features

from gan_tf import data
from gan_tf.errors import UserError

pytestmark = pytest.mark.faults


def _good_pictures(folder, count=3):
    """`count` random 8x8 RGB PNGs named good_0.png...; returns their pixels in file-name order."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(count)]
    for index, array in enumerate(arrays):
        Image.fromarray(array).save(folder / f"good_{index}.png")
    return arrays


def _png(width, height, color_type=2, bit_depth=8, raw=b"", text=b""):
    """A PNG written byte by byte, so its header may claim any size and a zTXt chunk may unpack to
    `text` (decompression bombs)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    comment = chunk(b"zTXt", b"Comment\0\0" + zlib.compress(text)) if text else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + comment + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def _load_warning(folder, **kwargs):
    """(the ImageSet, the text of the one warning loading gave)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image_set = data.load(str(folder), image_size=8, **kwargs)
    messages = [str(warning.message) for warning in caught]
    assert len(messages) == 1 and "\n" not in messages[0], messages
    return image_set, messages[0]


def test_broken_and_stray_files_are_skipped_with_one_counted_warning(tmp_path, monkeypatch, fault_tally):
    good = _good_pictures(tmp_path)
    whole = (tmp_path / "good_0.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(whole[:len(whole) // 2])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "letter.jpg").write_text("this is not a jpeg")
    (tmp_path / "labels.csv").write_text("a,b\n")
    (tmp_path / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden: not data, passed over silently
    (tmp_path / "._good_0.png").write_bytes(b"\0\5\26\7 macOS resource fork")
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "thumb.png").write_bytes(b"junk")
    fault_tally.bad_input(7)

    image_set, message = _load_warning(tmp_path)
    np.testing.assert_array_equal(image_set.images, np.stack(good))  # only the good ones, unchanged
    assert message.startswith(f"skipped 4 unreadable image file(s) of 7 files in {tmp_path} (")
    assert message.endswith("; and 1 more)")  # three named, the rest counted

    monkeypatch.setattr(data, "EXAMPLES", 10)
    _, message = _load_warning(tmp_path)
    for expected in ("cut.png: image file is truncated", "empty.png: empty file",
                     "letter.jpg: not an image Pillow can read", "labels.csv: not named as an image"):
        assert expected in message
    assert "DS_Store" not in message and "._good_0" not in message and "thumb" not in message


def test_a_truncated_file_is_skipped_even_where_pillow_was_told_to_keep_truncated_images(
        tmp_path, monkeypatch, fault_tally):
    good = _good_pictures(tmp_path, 2)
    whole = (tmp_path / "good_0.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(whole[:len(whole) // 2])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # a common copy-paste "fix"
    fault_tally.bad_input()

    image_set, message = _load_warning(tmp_path)
    np.testing.assert_array_equal(image_set.images, np.stack(good))
    assert "cut.png: image file is truncated" in message
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the caller's setting is given back


def test_a_folder_with_nothing_usable_is_one_line_error(tmp_path, fault_tally):
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "b.png").write_text("not a picture")
    fault_tally.bad_input(2)
    with pytest.raises(UserError, match=r"none of the 2 image files .* could be read \(a.png: empty file; b.png"
                       ) as error:
        data.load(str(tmp_path))
    assert "\n" not in str(error.value)

    (tmp_path / "a.png").unlink()
    (tmp_path / "b.png").rename(tmp_path / "b.txt")
    fault_tally.bad_input()
    with pytest.raises(UserError, match=r"no images found in .*found b.txt\)$"):
        data.load(str(tmp_path))


def test_hidden_files_do_not_turn_class_folders_off(tmp_path, fault_tally):
    for name in ("cat", "dog"):
        _good_pictures(tmp_path / name, 1)
    (tmp_path / "._cover.png").write_bytes(b"\0\5\26\7 macOS resource fork")  # unzipped on a Mac
    fault_tally.bad_input()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image_set = data.load(str(tmp_path), image_size=8)
    assert image_set.class_names == ("cat", "dog") and image_set.labels.tolist() == [0, 1]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_pipes_and_links_are_skipped_not_opened(tmp_path, fault_tally):
    good = _good_pictures(tmp_path, 1)
    os.mkfifo(tmp_path / "pipe.png")  # Image.open would wait on it for ever
    os.symlink(tmp_path / "gone.png", tmp_path / "link.png")
    _good_pictures(tmp_path / "elsewhere", 1)
    os.symlink(tmp_path / "elsewhere", tmp_path / "linked", target_is_directory=True)
    fault_tally.bad_input(3)

    image_set, message = _load_warning(tmp_path)
    np.testing.assert_array_equal(image_set.images, np.stack(good * 2))  # elsewhere/ once, not twice
    assert "link.png: not a regular file" in message and "pipe.png: not a regular file" in message
    assert "linked: a linked folder, not followed" in message


def test_only_the_usual_image_formats_are_decoded_whatever_the_file_name(tmp_path, fault_tally):
    colour = np.full((8, 8, 3), (40, 90, 160), np.uint8)
    Image.fromarray(colour).save(tmp_path / "a_jpeg_named.png", format="JPEG", quality=95)  # mislabelled: fine
    Image.fromarray(colour).save(tmp_path / "b_postscript.png", format="EPS")  # would run Ghostscript
    fault_tally.bad_input(2)
    image_set, message = _load_warning(tmp_path)
    np.testing.assert_allclose(image_set.images.astype(int), colour[None], atol=3)
    assert message.endswith("(b_postscript.png: not an image Pillow can read)")


def test_decompression_bombs_are_skipped_from_their_header_without_decoding(tmp_path, monkeypatch, fault_tally):
    good = _good_pictures(tmp_path, 1)
    # A few hundred bytes each: over the limit (Pillow only warns, then decodes 300 MB) and over twice it.
    (tmp_path / "bomb_warn.png").write_bytes(_png(10_000, 10_000, raw=b"\0" * 64))
    (tmp_path / "bomb_error.png").write_bytes(_png(100_000, 100_000, raw=b"\0" * 64))
    (tmp_path / "bomb_text.png").write_bytes(_png(8, 8, raw=b"\0" * 200, text=b"A" * 4 * 2**20))  # 4 MB in 4 KB
    fault_tally.bad_input(3)
    decoded = []
    original_load = ImageFile.ImageFile.load

    def spy(picture):
        decoded.append(os.path.basename(picture.filename or ""))
        return original_load(picture)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    start = time.perf_counter()
    image_set, message = _load_warning(tmp_path)  # also: no DecompressionBombWarning gets out
    assert time.perf_counter() - start < 2.0
    np.testing.assert_array_equal(image_set.images, np.stack(good))
    assert set(decoded) == {"good_0.png"}  # the bombs were refused from their headers
    assert message.count("decompression-bomb limit of 89,478,485 pixels") == 2
    assert "bomb_text.png: Decompressed data too large for PngImagePlugin.MAX_TEXT_CHUNK" in message


def test_single_image_inputs_are_read_the_same_way(tmp_path, fault_tally):
    (tmp_path / "bomb.png").write_bytes(_png(100_000, 100_000))
    fault_tally.bad_input()
    with pytest.raises(UserError, match=r"could not read .*bomb.png as an image \(over Pillow's decompression"):
        data.load_inputs(str(tmp_path / "bomb.png"), 8, 3)
    values = np.arange(64, dtype=np.uint16).reshape(8, 8) * 1040  # 0 .. 65520
    Image.fromarray(values).save(tmp_path / "deep.png")
    fault_tally.bad_input()
    loaded = data.load_inputs(str(tmp_path / "deep.png"), 8, 1)
    np.testing.assert_array_equal(loaded.images[0, ..., 0], (values.astype(np.uint32) + 128) // 257)


def test_16_bit_images_are_scaled_to_8_bits_not_clipped(tmp_path, fault_tally):
    grey = np.array([0, 128, 129, 1000, 32896, 60000, 65280, 65535] * 8, np.uint16).reshape(8, 8)
    Image.fromarray(grey).save(tmp_path / "a_grey16.png")  # Pillow: mode I;16
    assert Image.open(tmp_path / "a_grey16.png").mode == "I;16"
    colour = np.stack([grey, grey[::-1], np.full_like(grey, 32896)], axis=-1).astype(">u2")
    rows = b"".join(b"\0" + row.tobytes() for row in colour)
    (tmp_path / "b_rgb16.png").write_bytes(_png(8, 8, color_type=2, bit_depth=16, raw=rows))
    fault_tally.bad_input(2)

    expected = ((grey.astype(np.uint32) + 128) // 257).astype(np.uint8)
    assert expected[0].tolist() == [0, 0, 1, 4, 128, 233, 254, 255]
    loaded = data.load(str(tmp_path), image_size=8, channels=1).images
    np.testing.assert_array_equal(loaded[0, ..., 0], expected)
    rgb = data.load(str(tmp_path), image_size=8, channels=3).images
    np.testing.assert_array_equal(rgb[0], np.repeat(expected[..., None], 3, axis=-1))
    # 16-bit colour: Pillow keeps the high byte, at most 1 below round(v / 257)
    np.testing.assert_allclose(rgb[1].astype(int), colour.astype(np.uint32) / 257, atol=1.0)


def test_32_bit_and_float_pixels_of_unknown_range_are_skipped(tmp_path, fault_tally):
    good = _good_pictures(tmp_path, 1)
    Image.fromarray(np.full((8, 8), 70_000, np.int32)).save(tmp_path / "int32.tif")
    Image.fromarray(np.full((8, 8), 0.5, np.float32)).save(tmp_path / "float.tif")
    fault_tally.bad_input(2)
    image_set, message = _load_warning(tmp_path)
    np.testing.assert_array_equal(image_set.images, np.stack(good))
    assert "float.tif: floating-point pixels of unknown range" in message
    assert "int32.tif: 32-bit integer pixels of unknown range" in message


def test_palette_cmyk_transparent_and_bilevel_images_give_the_right_colours(tmp_path, fault_tally):
    palette = Image.new("P", (8, 8))
    palette.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    palette.paste(1, (4, 0, 8, 8))  # right half: palette entry 1
    palette.save(tmp_path / "a_palette.png")
    cmyk = Image.new("CMYK", (8, 8), (0, 0, 0, 128))  # half black
    cmyk.paste((255, 0, 0, 0), (0, 0, 4, 8))  # left half: pure cyan
    cmyk.save(tmp_path / "b_cmyk.tif")
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "c_cmyk.jpg", quality=95)  # red
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:, :4] = (255, 0, 0, 255)  # left: opaque red
    rgba[:, 4:] = (0, 255, 0, 0)  # right: transparent, hiding green
    Image.fromarray(rgba, "RGBA").save(tmp_path / "d_rgba.png")
    Image.fromarray(np.stack([np.zeros((8, 8)), np.full((8, 8), 128)], -1).astype(np.uint8), "LA").save(
        tmp_path / "e_la.png")  # black at half opacity
    keyed = Image.new("P", (8, 8))
    keyed.putpalette([0, 0, 255, 0, 255, 0] + [0] * 762)
    keyed.paste(1, (0, 4, 8, 8))
    keyed.save(tmp_path / "f_keyed.png", transparency=0)  # entry 0 (blue) is transparent
    Image.new("1", (8, 8), 1).save(tmp_path / "g_bilevel.png")
    fault_tally.bad_input(7)

    palette_rgb, cmyk_rgb, cmyk_jpeg, rgba_rgb, la_rgb, keyed_rgb, bilevel = data.load(
        str(tmp_path), image_size=8, channels=3).images
    np.testing.assert_array_equal(palette_rgb[:, :4], np.full((8, 4, 3), (10, 20, 30)))
    np.testing.assert_array_equal(palette_rgb[:, 4:], np.full((8, 4, 3), (200, 100, 50)))
    np.testing.assert_array_equal(cmyk_rgb[:, :4], np.full((8, 4, 3), (0, 255, 255)))
    np.testing.assert_array_equal(cmyk_rgb[:, 4:], np.full((8, 4, 3), 127))
    np.testing.assert_allclose(cmyk_jpeg.astype(int), np.full((8, 8, 3), (255, 0, 0)), atol=4)
    np.testing.assert_array_equal(rgba_rgb[:, :4], np.full((8, 4, 3), (255, 0, 0)))
    np.testing.assert_array_equal(rgba_rgb[:, 4:], np.full((8, 4, 3), 255))  # over white, not the hidden green
    np.testing.assert_allclose(la_rgb.astype(int), np.full((8, 8, 3), 127), atol=1)
    np.testing.assert_array_equal(keyed_rgb[:4], np.full((4, 8, 3), 255))
    np.testing.assert_array_equal(keyed_rgb[4:], np.full((4, 8, 3), (0, 255, 0)))
    np.testing.assert_array_equal(bilevel, np.full((8, 8, 3), 255))
    grey = data.load(str(tmp_path), image_size=8, channels=1).images[..., 0]
    np.testing.assert_array_equal(grey[1][:, :4], np.full((8, 4), 179))  # cyan, ITU-R 601 luma
    np.testing.assert_array_equal(grey[3][:, 4:], np.full((8, 4), 255))


def test_animated_images_give_their_first_frame_and_are_counted(tmp_path, fault_tally):
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    kinds = ["gif", "png"] + (["webp"] if features.check("webp") else [])
    for kind in kinds:
        options = {"lossless": True} if kind == "webp" else {}
        frames[0].save(tmp_path / f"moving.{kind}", save_all=True, append_images=frames[1:], duration=100, **options)
    fault_tally.bad_input(len(kinds))

    image_set, message = _load_warning(tmp_path)
    np.testing.assert_array_equal(image_set.images, np.full((len(kinds), 8, 8, 3), (255, 0, 0)))
    assert message.startswith(f"used only the first frame of {len(kinds)} multi-frame image(s) in {tmp_path} "
                              "(moving.gif; moving.png")


def test_a_photo_with_an_exif_turn_is_loaded_upright(tmp_path, fault_tally):
    stored = np.zeros((4, 8, 3), np.uint8)
    stored[:, :4] = 255  # stored sideways: its left half is white
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90 degrees clockwise to view"
    Image.fromarray(stored).save(tmp_path / "phone.png", exif=exif)
    fault_tally.bad_input()
    upright = data.load(str(tmp_path), image_size=4, channels=1).images[0, ..., 0]
    np.testing.assert_array_equal(upright, [[255] * 4, [255] * 4, [0] * 4, [0] * 4])  # white on top


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_pixels_are_refused_with_their_count(tmp_path, bad, fault_tally):
    images = np.full((4, 8, 8, 1), 0.5, np.float32)
    images[1, 2, 3] = images[2, 0, 0] = bad
    np.savez(tmp_path / "sick.npz", images=images, labels=np.arange(4))
    fault_tally.bad_input()
    with pytest.raises(UserError, match=r"sick.npz: 2 of 256 pixel values are NaN or infinite") as error:
        data.load(str(tmp_path / "sick.npz"))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("labels, message", [
    (np.array([0, 1, -1, 2]), r"1 labels are negative \(e.g. -1\)"),
    (np.array([0.0, 1.0, 2.5, 1.0]), r"1 labels are not whole numbers \(e.g. 2.5\)"),
    (np.array([0.0, np.nan, 1.0, np.inf]), r"2 labels are not whole numbers"),
    (np.array([0, 1, 2, 10**9]), r"label 1000000000 is not a class index"),
    (np.eye(4, dtype=np.float32), r"labels shaped \(4, 4\).*np.argmax"),
    (np.arange(5), r"5 labels for 4 images"),
    (np.array(["cat", "dog", "cat", "dog"]), r"labels have dtype <U3"),
])
def test_labels_that_are_not_class_indices_are_refused(tmp_path, labels, message, fault_tally):
    np.savez(tmp_path / "set.npz", images=np.zeros((4, 8, 8), np.uint8), labels=labels)
    fault_tally.bad_input()
    with pytest.raises(UserError, match=message) as error:
        data.load(str(tmp_path / "set.npz"))
    assert "\n" not in str(error.value)


def test_whole_number_labels_in_any_shape_of_one_per_image_are_kept(tmp_path, fault_tally):
    fault_tally.bad_input()  # float labels in a column: unusual, not wrong
    np.savez(tmp_path / "set.npz", images=np.zeros((4, 8, 8), np.uint8), labels=np.array([[0.0], [2.0], [1.0], [2.0]]))
    loaded = data.load(str(tmp_path / "set.npz"))
    assert loaded.labels.dtype == np.int32 and loaded.labels.tolist() == [0, 2, 1, 2]


def _claims_petabytes(path):
    with open(path, "wb") as file:
        np.lib.format.write_array_header_1_0(file, {"descr": "|u1", "fortran_order": False,
                                                    "shape": (10**7, 10**4, 10**4, 3)})
        file.write(b"\0" * 64)


@pytest.mark.parametrize("name, write, message", [
    ("empty.npz", lambda path: path.write_bytes(b""), r"could not read .*empty.npz as a numpy file"),
    ("cut.npz", lambda path: path.write_bytes(b"PK\3\4" + b"\0" * 40), r"could not read .*cut.npz as a numpy file"),
    ("cut.npy", lambda path: path.write_bytes(_npy_bytes()[:-20]), r"could not read .*cut.npy as a numpy file"),
    ("pickled.npz", lambda path: np.savez(path, images=np.array([None, 1], dtype=object)),
     r"could not read .*pickled.npz as a numpy file \(Object arrays"),
    ("words.npz", lambda path: np.savez(path, images=np.array(["a", "b"])), r"images have dtype <U1"),
    ("flat.npy", lambda path: np.save(path, np.zeros((2, 0, 8), np.float32)), r"expected images shaped"),
    ("huge.npy", _claims_petabytes, r"could not read .*huge.npy: Unable to allocate"),
])
def test_unreadable_array_files_are_one_line_errors(tmp_path, name, write, message, fault_tally):
    write(tmp_path / name)
    fault_tally.bad_input()
    with pytest.raises(UserError, match=message) as error:
        data.load(str(tmp_path / name))
    assert "\n" not in str(error.value)


def _npy_bytes():
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.zeros((4, 8, 8), np.uint8))
    return buffer.getvalue()


def test_an_npz_that_unpacks_beyond_memory_is_refused_before_reading(tmp_path, monkeypatch, fault_tally):
    np.savez_compressed(tmp_path / "bomb.npz", images=np.zeros((64, 64, 64), np.uint8))  # 262 KB in 1 KB
    monkeypatch.setattr(data, "_memory_bytes", lambda: 100_000)  # as if this machine had 100 KB
    fault_tally.bad_input()
    with pytest.raises(UserError, match=r"bomb.npz unpacks to 0.3 MB, more than this machine's 0.1 MB of memory"):
        data.load(str(tmp_path / "bomb.npz"))
