"""Printed text that does not depend on how the kernel split it into stream outputs.

myst-nb's ``coalesce_streams`` (used when ``nb_merge_streams = True``) strips every
chunk before joining, so where the kernel happened to split the printed text decides
whether blank lines survive, and it edits the first chunk in place, leaving the later
chunks behind in the written notebook (upstream: the function at
https://github.com/executablebooks/MyST-NB/blob/v1.4.0/myst_nb/core/utils.py#L13, and
https://github.com/executablebooks/MyST-NB/pull/640 on the stripping). This extension
replaces it, in ``myst_nb.core.render`` where the renderer calls it, with
``merge_streams``: the result depends only on what was printed, and the outputs given
are not modified. ``executed_notebooks`` merges the written notebooks' streams with it too.
"""

from __future__ import annotations

import copy
from typing import Any

from sphinx.application import Sphinx
from upstream import require_version

MYST_NB_VERSION = "1.4.0"
UPSTREAM = "https://github.com/executablebooks/MyST-NB/blob/v1.4.0/myst_nb/core/utils.py#L13"


def merge_streams(outputs: list[Any]) -> list[Any]:
    """Merge each stream (stdout, stderr) of a cell into one output, text joined as sent."""
    merged: list[Any] = []
    streams: dict[str, Any] = {}
    for output in outputs:
        if output.get("output_type") != "stream":
            merged.append(output)
        elif output["name"] in streams:
            streams[output["name"]]["text"] += output["text"]
        else:
            stream = copy.deepcopy(output)
            streams[output["name"]] = stream
            merged.append(stream)
    for stream in streams.values():
        stream["text"] = stream["text"].rstrip() + "\n"
    return merged


def setup(app: Sphinx) -> dict[str, Any]:
    require_version("myst-nb", MYST_NB_VERSION, "the stream merging of docs/_ext", UPSTREAM)
    import myst_nb.core.render

    if not callable(getattr(myst_nb.core.render, "coalesce_streams", None)):
        raise RuntimeError("myst_nb.core.render no longer calls coalesce_streams: see " + UPSTREAM)
    myst_nb.core.render.coalesce_streams = merge_streams
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
