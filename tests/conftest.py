"""Test-wide settings: Keras runs on its numpy backend, Qt renders offscreen.

``tests`` is a package, so pytest puts the repository's top folder first on ``sys.path``: the
checkout's ``engine`` and ``gui`` are the ones tested.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "numpy")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
