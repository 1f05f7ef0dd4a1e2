"""Making datasets: the ``python3 -m prepare`` command, synthetic masks (``masks``,
``mask_canvas``, ``mask_shapes``, ``mask_textures``) drawn on real faces, frames and
soundtracks of videos, and the synthetic talking clip. Loading what it writes is
``datasets``' job."""
