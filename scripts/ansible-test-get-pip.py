"""Offline stand-in for the pip bootstrap script that ansible-test downloads.

ansible-test creates its sanity virtualenvs without pip and runs a cached
``~/.ansible/test/cache/get_pip_<version>.py`` with pip-install arguments to add it; that
script comes from a host this machine cannot reach.  This one takes the same arguments,
bootstraps pip from the interpreter's bundled wheel (ensurepip), then installs the requested
pip version from the package index.  ``scripts/setup.sh`` puts it in place.
"""

import subprocess
import sys

GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}

pip_arguments = [argument for argument in sys.argv[1:] if argument not in GET_PIP_ONLY_OPTIONS]
subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
subprocess.run([sys.executable, "-m", "pip", "install", "-q", *pip_arguments], check=True)
