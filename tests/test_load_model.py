"""mcbridge.load_model on a folder says what it got and what to pass, not "does not exist"."""

import pytest

import mcbridge


def test_a_saved_model_folder(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"")
    (tmp_path / "variables").mkdir()
    with pytest.raises(IsADirectoryError, match="TensorFlow SavedModel folder.*model.save\\('model.keras'\\)"):
        mcbridge.load_model(tmp_path)


def test_a_folder_of_model_files_names_them(cnn, tmp_path):
    cnn.save(tmp_path / "b.keras")
    cnn.save(tmp_path / "a.keras")
    with pytest.raises(IsADirectoryError, match="it holds a.keras, b.keras: pass one of those"):
        mcbridge.load_model(tmp_path)
    assert mcbridge.load_model(tmp_path / "a.keras", compile=False).count_params() == cnn.count_params()


def test_an_empty_folder_and_a_missing_file(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder, not a model file. Pass the `.keras` file"):
        mcbridge.load_model(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mcbridge.load_model(tmp_path / "model.keras")
