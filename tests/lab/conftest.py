"""Fixtures for the kernel lab: one QEMU VM for the whole session, always stopped at the end.

``lab_vm`` is the VM booted with the default kernel command line; it boots once per
session (the session-scoped ``lab`` pool keeps it) and is shared by every scenario.
``lab.vm("slub_debug=U,leaky_obj")`` gives a VM booted with extra kernel parameters
(the pool stops the current VM first: never two at once).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vm import LabImage, LabPool, LabVM, build_image


@pytest.fixture(scope="session")
def lab_image() -> LabImage:
    """The lab image, built by build-image.sh or reused from its cache."""
    return build_image()


@pytest.fixture(scope="session")
def lab(lab_image: LabImage, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabPool]:
    pool = LabPool(lab_image, tmp_path_factory.mktemp("lab"))
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def lab_vm(lab: LabPool) -> LabVM:
    """The lab VM with the default kernel command line (booted once, then reused)."""
    return lab.vm("")


@pytest.fixture
def leaky(lab_vm: LabVM) -> Iterator[LabVM]:
    """The VM, with ``rmmod leaky`` after the test whatever happened in it."""
    try:
        yield lab_vm
    finally:
        if lab_vm.running:
            lab_vm.unload_module()
