#!/usr/bin/env python
"""Packaging for the acrpull Azure CLI extension."""
from setuptools import find_packages, setup

VERSION = "1.0.0b1"

CLASSIFIERS = [
    "Development Status :: 4 - Beta",
    "Intended Audience :: Developers",
    "Intended Audience :: System Administrators",
    "Programming Language :: Python",
    "Programming Language :: Python :: 3",
    "Programming Language :: Python :: 3.10",
    "Programming Language :: Python :: 3.11",
    "Programming Language :: Python :: 3.12",
    "License :: OSI Approved :: MIT License",
]

with open("README.md", "r", encoding="utf-8") as f:
    README = f.read()

setup(
    name="acrpull",
    version=VERSION,
    description="Diagnose why AKS cannot pull images from Azure Container Registry: az aks diagnose-pull.",
    # Only the README's introduction: az parses every installed extension's METADATA, long description included,
    # several times per command (12 times for `az aks show`), so the whole README and history would cost every az
    # command about 10 ms (bench/run.py measures the extension's cost to `az aks show`).
    long_description=README.split("\n## ", 1)[0],
    long_description_content_type="text/markdown",
    license="MIT",
    author="acrpull",
    url="https://github.com/acrpull/acrpull",
    classifiers=CLASSIFIERS,
    packages=find_packages(include=["azext_acrpull", "azext_acrpull.*"]),
    install_requires=[],
    package_data={"azext_acrpull": ["azext_metadata.json"]},
)
