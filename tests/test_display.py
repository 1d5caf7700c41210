"""Display helpers: image rescaling and reader-visible notices."""

from __future__ import annotations

import pytest
import torch

from gancnn.book.display import admonition_html, to_display


def test_to_display_maps_to_unit_range_channels_last() -> None:
    h = torch.randn(3, 5, 7) * 4 - 2
    img = to_display(h)
    assert img.shape == (5, 7, 3)
    assert img.min() == pytest.approx(0.0) and img.max() == pytest.approx(1.0)


def test_admonition_escapes_text_and_checks_kind() -> None:
    out = admonition_html("warning", "Untrained <networks>", "a & b")
    assert 'class="admonition warning"' in out and "&lt;networks&gt;" in out and "a &amp; b" in out
    with pytest.raises(ValueError):
        admonition_html("shout", "t", "x")


def test_fit_caps_the_width_and_keeps_the_aspect() -> None:
    """A figure wider than MAX_FIGURE_INCHES shrinks as a whole; narrower ones are untouched; a 1:1 page at DPI."""
    from gancnn.book import plots

    assert plots.fit(6.0, 3.0) == (6.0, 3.0)
    w, h = plots.fit(14.0, 5.2)
    assert w == plots.MAX_FIGURE_INCHES and h == pytest.approx(5.2 * plots.MAX_FIGURE_INCHES / 14.0)
    assert plots.MAX_FIGURE_INCHES * plots.DPI * 0.6 <= 688 < plots.MAX_FIGURE_INCHES * plots.DPI  # >= 60% on the page
    with pytest.raises(ValueError):
        plots.fit(0, 3)


def test_image_grids_draw_pixels_as_blocks_when_enlarged() -> None:
    """show_grid draws nearest-neighbour when each grid pixel gets a screen pixel or more, antialiased when shrunk."""
    import matplotlib.pyplot as plt

    from gancnn.book import plots

    plots.setup_style()
    fig, ax = plt.subplots(figsize=(6, 6))
    plots.show_grid(ax, torch.rand(4, 3, 8, 8), nrow=2)  # an 18-pixel grid on a ~500-pixel axes
    assert ax.images[0].get_interpolation() == "nearest"
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(1, 1))
    plots.show_grid(ax, torch.rand(64, 3, 32, 32), nrow=8)  # a 274-pixel grid on a ~80-pixel axes
    assert ax.images[0].get_interpolation() == "antialiased"
    plt.close(fig)


def test_as_jpeg_is_a_closed_figure_as_a_light_jpeg_output() -> None:
    """A noise-like figure as JPEG: an IPython image of format jpeg, several times lighter than its PNG."""
    import io

    import matplotlib.pyplot as plt

    from gancnn.book import plots

    def noisy() -> plt.Figure:
        fig, ax = plt.subplots(figsize=(6, 4))
        plots.show_grid(ax, torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
        return fig

    png = io.BytesIO()
    fig = noisy()
    fig.savefig(png, format="png")
    plt.close(fig)
    fig = noisy()
    out = plots.as_jpeg(fig)
    assert out.format == "jpeg" and out.data[:2] == b"\xff\xd8"
    assert len(out.data) * 1.5 < len(png.getvalue())  # pure noise: the worst case for JPEG; photographs gain more
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(ValueError):
        plots.as_jpeg(noisy(), quality=0)


def test_glue_text_returns_text_that_the_page_does_not_echo() -> None:
    """glue_text returns an ordinary string (f-strings, equality) that shows nothing as a cell's last value."""
    from IPython.core.formatters import DisplayFormatter

    from gancnn.book.display import glue_text

    text = glue_text("k", 2000, ",")
    assert text == "2,000" and f"{text} images" == "2,000 images" and isinstance(text, str)
    assert DisplayFormatter().format(text) == ({}, {})  # a plain str would give {'text/plain': "'2,000'"}
    assert DisplayFormatter().format(str(text))[0] == {"text/plain": "'2,000'"}


def test_plural_counts_its_noun() -> None:
    from gancnn.book.display import plural

    assert (plural(1, "chunk"), plural(9, "chunk"), plural(2000, "image")) == ("1 chunk", "9 chunks", "2,000 images")
    assert plural(2, "matrix", "matrices") == "2 matrices"
