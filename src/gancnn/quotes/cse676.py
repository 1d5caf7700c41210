"""Numbers quoted from the CSE 676 project on DCGAN and SAGAN (cse676project).

The source numbers its parts 1 (DCGAN), 2-6 (SAGAN) and 7 (comparison); `where` names those sections.
Its step counts ("about 60k", "about 140k") are read off its training curves and printed as it writes them.
The chunk FIDs are read from `gancnn.reference.gans.SOURCE_CHUNK_FID`, which the chapter's code also uses.
"""

from __future__ import annotations

from gancnn.quotes._quote import Quote
from gancnn.reference.gans import SOURCE_CHUNK_FID

SOURCE = "cse676project"

QUOTES: dict[str, Quote] = {
    "dcgan_chunk_fid": Quote(
        SOURCE, "section 1.4", "mean FID of DCGAN over 1024-image chunks of the test set", SOURCE_CHUNK_FID["dcgan"]
    ),
    "sagan_chunk_fid": Quote(
        SOURCE, "section 5", "mean FID of SAGAN over 1024-image chunks of the test set", SOURCE_CHUNK_FID["sagan"]
    ),
    "fid_chunk": Quote(SOURCE, "sections 1.4 and 5", "images per chunk (test and generated) of the FID protocol", 1024),
    "real_chunk_fid": Quote(
        SOURCE, "sections 1.4 and 5", "FID between test and training images by the same chunks (about)", 50
    ),
    "dcgan_loss_turn_step": Quote(
        SOURCE, "section 1.3", "training step where DCGAN's losses turn (about)", 60_000, "60k"
    ),
    "dcgan_best_fid_step": Quote(SOURCE, "section 7.2", "training step of DCGAN's best FID (about)", 80_000, "80k"),
    "sagan_steps": Quote(SOURCE, "section 5", "training steps of the last SAGAN checkpoint (about)", 140_000, "140k"),
    "d_width": Quote(SOURCE, "section 3.2 (table)", "channels of the SAGAN discriminator's first convolution", 64),
    "d_params": Quote(SOURCE, "section 3.2 (table)", "trainable parameters of the SAGAN discriminator", 1_884_396),
    "d_attention_params": Quote(
        SOURCE, "section 3.2 (table)", "parameters of the SAGAN discriminator's attention layer", 37_153
    ),
}
