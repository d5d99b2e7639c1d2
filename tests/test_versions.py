"""The TensorFlow pair a fresh install gets, and the one installed."""

import configparser
import os
import re
from importlib.metadata import version

SETUP_CFG = os.path.join(os.path.dirname(__file__), "..", "setup.cfg")


def requirement(name):
    config = configparser.ConfigParser()
    config.read(SETUP_CFG)
    for line in config["options"]["install_requires"].split("\n"):
        match = re.fullmatch(rf"{re.escape(name)}(\W.*)", line.strip())
        if match:
            return match.group(1)
    raise AssertionError(f"{name} is not in install_requires")


def minor(text):
    return tuple(int(part) for part in text.split(".")[:2])


def test_tensorflow_and_tensorflow_text_take_the_same_bounds():
    bounds = requirement("tensorflow")
    assert bounds == requirement("tensorflow-text")
    assert bounds == requirement("tensorflow-serving-api")
    # An upper bound, so that a new TensorFlow cannot arrive without its
    # tensorflow-text.
    assert "<" in bounds


def test_the_installed_pair_shares_a_minor_version():
    assert minor(version("tensorflow")) == minor(version("tensorflow-text"))
    assert minor(version("tensorflow")) == minor(
        version("tensorflow-serving-api"))
