"""Files that hold models: training checkpoints (``checkpoint``), exported folders and their
model card (``card``, ``export``), loading any of them (``load``) and the ONNX runtime network
(``onnx``). Each format has one schema class of recorded key names that its writer and its
readers share (``CheckpointKeys``, ``CardKeys``)."""
