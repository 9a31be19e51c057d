"""Credentials never show the secret (nor the key) in reprs, logs or exceptions."""

from __future__ import annotations

import copy
import logging
import pickle

import pytest

from bot4.core.errors import ConfigError
from bot4.venues.binance import Credentials, sign

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def assert_no_secret(text: str) -> None:
    assert SECRET not in text
    assert SECRET[:12] not in text
    assert KEY not in text
    assert KEY[4:12] not in text


def test_credentials_repr_and_str_show_only_a_key_fingerprint():
    credentials = Credentials(KEY, SECRET)
    for text in (
        repr(credentials),
        str(credentials),
        f"{credentials}",
        f"{credentials!r}",
        repr([credentials]),
    ):
        assert_no_secret(text)
        assert "vmPU***" in text
    assert credentials.fingerprint == "vmPU***"
    assert credentials.api_key == KEY


def test_credentials_sign_with_the_secret_they_hide():
    assert Credentials(KEY, SECRET).sign("a=1") == sign("a=1", SECRET)


def test_credentials_logged_as_an_object_leak_nothing(caplog):
    logger = logging.getLogger("bot4.test.credentials")
    credentials = Credentials(KEY, SECRET)
    with caplog.at_level(logging.DEBUG, logger="bot4.test.credentials"):
        logger.info("using %s", credentials)
        logger.info("using %r", credentials)
        logger.info("state: %s", {"credentials": credentials})
        try:
            raise RuntimeError(f"failed with {credentials}")
        except RuntimeError:
            logger.exception("boom")
    assert len(caplog.records) == 4
    assert_no_secret(caplog.text)


def test_credentials_refuse_pickling_and_copying():
    credentials = Credentials(KEY, SECRET)
    with pytest.raises(TypeError):
        pickle.dumps(credentials)
    with pytest.raises(TypeError):
        copy.copy(credentials)
    assert not hasattr(credentials, "__dict__")


@pytest.mark.parametrize(
    ("key", "secret"),
    [("", SECRET), (KEY, ""), ("key with space", SECRET), (KEY, SECRET + "\n")],
    ids=["empty-key", "empty-secret", "space-in-key", "newline-in-secret"],
)
def test_credentials_reject_malformed_values_without_echoing_them(key, secret):
    with pytest.raises(ConfigError) as excinfo:
        Credentials(key, secret)
    assert_no_secret(str(excinfo.value))
    assert "key with space" not in str(excinfo.value)


def test_credentials_from_env_read_prefixed_variables():
    credentials = Credentials.from_env(
        environ={"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET}
    )
    assert credentials.api_key == KEY
    testnet = Credentials.from_env(
        "BINANCE_TESTNET",
        environ={"BINANCE_TESTNET_API_KEY": "k1", "BINANCE_TESTNET_API_SECRET": "s1"},
    )
    assert testnet.sign("x") == sign("x", "s1")


def test_credentials_from_env_names_the_missing_variable_not_the_other_value():
    with pytest.raises(ConfigError) as excinfo:
        Credentials.from_env(environ={"BINANCE_API_KEY": KEY})
    assert excinfo.value.context == {"variable": "BINANCE_API_SECRET"}
    assert_no_secret(str(excinfo.value))


def test_credentials_from_file_reads_toml_and_two_line_files(tmp_path):
    toml_file = tmp_path / "binance.toml"
    toml_file.write_text(f'api_key = "{KEY}"\napi_secret = "{SECRET}"\n')
    toml_file.chmod(0o600)
    assert Credentials.from_file(toml_file).sign("p") == sign("p", SECRET)
    lines_file = tmp_path / "binance.key"
    lines_file.write_text(f"{KEY}\n{SECRET}\n")
    lines_file.chmod(0o400)
    assert Credentials.from_file(lines_file).api_key == KEY


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660])
def test_credentials_from_file_refuse_a_file_others_can_access_naming_path_and_mode(tmp_path, mode):
    key_file = tmp_path / "binance.key"
    key_file.write_text(f"{KEY}\n{SECRET}\n")
    key_file.chmod(mode)
    with pytest.raises(ConfigError) as excinfo:
        Credentials.from_file(key_file)
    assert excinfo.value.context["file"] == str(key_file)
    assert excinfo.value.context["mode"] == oct(mode)
    assert_no_secret(str(excinfo.value))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (f"{KEY}\n", "two lines"),
        (f"{KEY}\n{SECRET}\nextra\n", "two lines"),
        (f'api_key = "{KEY}"\n', "missing"),
        (f'api_key = "{KEY}"\napi_secret = 5\n', "not a string"),
        (f'api_key = "{KEY}"\napi_secret = "{SECRET}"\nsecret = "{SECRET}"\n', "unknown key"),
    ],
    ids=[
        "one-line",
        "three-lines",
        "toml-missing-secret",
        "toml-secret-not-string",
        "toml-unknown-key",
    ],
)
def test_credentials_from_file_explain_a_malformed_file_without_its_content(
    tmp_path, content, expected
):
    key_file = tmp_path / "binance.key"
    key_file.write_text(content)
    key_file.chmod(0o600)
    with pytest.raises(ConfigError) as excinfo:
        Credentials.from_file(key_file)
    assert expected in str(excinfo.value)
    assert_no_secret(str(excinfo.value))
    # no chained exception (a TOML parse error quoting the file) rides along in a traceback
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__context__ is None or excinfo.value.__suppress_context__


def test_credentials_from_file_names_a_missing_file(tmp_path):
    with pytest.raises(ConfigError) as excinfo:
        Credentials.from_file(tmp_path / "absent.key")
    assert excinfo.value.context["file"] == str(tmp_path / "absent.key")
