"""Loading datasets: the on-disk layout (``datasets.layout``), stage-1 pairs
(``datasets.segmentation``) and stage-2 triplets with audio windows for video roots
(``datasets.reconstruction``). Making datasets is ``prepare``'s job."""
