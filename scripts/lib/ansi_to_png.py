"""Render a `tmux capture-pane -e` dump (text with SGR colour codes) to PNG."""
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
# DejaVu Sans Mono has no Braille patterns (the charts); DejaVu Sans does.
BRAILLE = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SIZE = 15
BASE16 = [
    (0, 0, 0), (205, 49, 49), (13, 188, 121), (229, 229, 16), (36, 114, 200), (188, 63, 188), (17, 168, 205), (229, 229, 229),
    (102, 102, 102), (241, 76, 76), (35, 209, 139), (245, 245, 67), (59, 142, 234), (214, 112, 214), (41, 184, 219), (255, 255, 255),
]
DEFAULT_FG, DEFAULT_BG = (220, 220, 220), (24, 26, 31)


def xterm256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


def apply_sgr(params, st):
    codes = [int(p) if p else 0 for p in params.split(";")] if params else [0]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            st.update(fg=None, bg=None, bold=False, rev=False)
        elif c == 1:
            st["bold"] = True
        elif c == 22:
            st["bold"] = False
        elif c == 7:
            st["rev"] = True
        elif c == 27:
            st["rev"] = False
        elif 30 <= c <= 37:
            st["fg"] = BASE16[c - 30]
        elif 90 <= c <= 97:
            st["fg"] = BASE16[c - 90 + 8]
        elif 40 <= c <= 47:
            st["bg"] = BASE16[c - 40]
        elif 100 <= c <= 107:
            st["bg"] = BASE16[c - 100 + 8]
        elif c == 39:
            st["fg"] = None
        elif c == 49:
            st["bg"] = None
        elif c in (38, 48) and i + 1 < len(codes):
            key = "fg" if c == 38 else "bg"
            if codes[i + 1] == 5 and i + 2 < len(codes):
                st[key] = xterm256(codes[i + 2])
                i += 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                st[key] = tuple(codes[i + 2:i + 5])
                i += 4
        i += 1


def main(src, dst):
    lines = open(src, encoding="utf-8", errors="replace").read().split("\n")
    font, bold = ImageFont.truetype(FONT, SIZE), ImageFont.truetype(BOLD, SIZE)
    braille = ImageFont.truetype(BRAILLE, SIZE)
    cw = int(font.getlength("M"))
    ch = SIZE + 4
    cols = 160
    img = Image.new("RGB", (cols * cw + 16, len(lines) * ch + 16), DEFAULT_BG)
    draw = ImageDraw.Draw(img)
    st = dict(fg=None, bg=None, bold=False, rev=False)
    for row, line in enumerate(lines):
        col = 0
        for token in re.split(r"(\x1b\[[0-9;]*m)", line):
            m = re.fullmatch(r"\x1b\[([0-9;]*)m", token)
            if m:
                apply_sgr(m.group(1), st)
                continue
            for char in token:
                fg, bg = st["fg"] or DEFAULT_FG, st["bg"] or DEFAULT_BG
                if st["rev"]:
                    fg, bg = bg, fg
                x, y = 8 + col * cw, 8 + row * ch
                draw.rectangle([x, y, x + cw, y + ch], fill=bg)
                fallback = "\u2800" <= char <= "\u28ff" or "\u2400" <= char <= "\u243f" or ord(char) > 0x1F000 or char == "\u23f3"
                face = braille if fallback else (bold if st["bold"] else font)
                draw.text((x, y + 1), char, font=face, fill=fg)
                col += 1
    img.save(dst)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
