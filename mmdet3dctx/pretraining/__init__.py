"""Pretraining and weight transfer: 2D checkpoints into 3D backbones, COCO as pseudo-3D, slice-count transfer."""
