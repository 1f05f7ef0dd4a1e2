"""Faces: finding them (``detect``, one detector with presets for preparing data and for
inference), their dlib landmarks and descriptors (``landmarks``), the square face crop and
the ``Region`` a model sees (``crop``), and following faces through a video (``track``)."""
