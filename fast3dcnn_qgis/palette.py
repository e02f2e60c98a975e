"""Default class colours: a categorical palette whose neighbours stay distinguishable on a map.

Colours the user already chose (a ground-truth colour table, a categorised vector style) always win;
the palette only fills the classes that have none, in the order of their ids.
"""
import colorsys

#: Twenty hues of clearly different lightness and saturation, strongest first.
PALETTE = ("#e6194b", "#3cb44b", "#4363d8", "#ffe119", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
           "#bcf60c", "#008080", "#9a6324", "#fabebe", "#800000", "#aaffc3", "#808000", "#000075",
           "#e6beff", "#ffd8b1", "#808080", "#fffac8")


def palette_color(index):
    """The ``index``-th default colour; past the table, hues spaced by the golden ratio."""
    if index < len(PALETTE):
        return PALETTE[index]
    hue = (index * 0.618033988749895) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.65 + 0.35 * (index % 2), 0.95 - 0.3 * (index % 3) / 2)
    return "#{:02x}{:02x}{:02x}".format(int(red * 255), int(green * 255), int(blue * 255))


def class_colors(class_ids, known=None):
    """{id: '#rrggbb'} for every id: the ``known`` colour where there is one, else the palette's,
    skipping palette colours already taken."""
    known = {int(k): v.lower() for k, v in (known or {}).items()}
    taken = set(known.values())
    colors, index = {}, 0
    for class_id in sorted(int(c) for c in class_ids):
        if class_id in known:
            colors[class_id] = known[class_id]
            continue
        while palette_color(index) in taken:
            index += 1
        colors[class_id] = palette_color(index)
        index += 1
    return colors
