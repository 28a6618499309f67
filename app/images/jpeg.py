"""A JPEG's structure read from its markers, before libjpeg is given it.

libjpeg keeps the whole image's coefficients in memory for a progressive JPEG (or a sequential
one with several scans), whatever the scale it decodes at, and walks all of them once per scan:
a file of a few kilobytes can hold thousands of scans (libjpeg only warns about a repeated
one), a CPU bomb. Counting the scans first costs one pass of `re` over the bytes.
"""

import re
from dataclasses import dataclass

# Start-of-frame markers of progressive JPEG (Huffman and arithmetic coded).
_PROGRESSIVE_FRAMES = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
_SOS, _EOI = 0xDA, 0xD9
# Markers that stand alone, without a length: TEM and RST0-7 (SOI is skipped before the loop).
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# The next marker after entropy-coded data: 0xFF followed by neither a stuffed zero nor a
# restart marker (libjpeg's next_marker skips anything else before it the same way).
_NEXT_MARKER = re.compile(rb"\xff+([^\x00\xd0-\xd7\xff])")


@dataclass(frozen=True, slots=True)
class JpegStructure:
    progressive: bool
    scans: int

    @property
    def buffered(self) -> bool:
        """Whether libjpeg must hold every coefficient of the full-size image at once."""
        return self.progressive or self.scans > 1


def read_structure(data: bytes, *, stop_after_scans: int) -> JpegStructure:
    """Frame type and scan count of the first image in `data` (an MPO's second is not decoded).

    Counting stops past `stop_after_scans`; a damaged file is left for the decoder to refuse.
    """
    progressive = False
    scans = 0
    position = 2  # after SOI
    while scans <= stop_after_scans:
        found = _NEXT_MARKER.search(data, position)
        if found is None:
            break
        marker = found.group(1)[0]
        position = found.end()
        if marker == _EOI:
            break
        if marker in _STANDALONE:
            continue
        if position + 2 > len(data):
            break
        length = int.from_bytes(data[position : position + 2], "big")
        if marker in _PROGRESSIVE_FRAMES:
            progressive = True
        if marker == _SOS:
            scans += 1
        # After a scan's header comes its entropy-coded data, which the next search skips.
        position += length
    return JpegStructure(progressive=progressive, scans=scans)
