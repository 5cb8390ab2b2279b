// ctlab's SVG writer: plain SVG 1.1 elements written straight to a file,
// for the pictures of `gil --svg` and `bench --svg`. Depends only on libc,
// so the tests link this file and render its output with rsvg-convert.
#include <string.h>

#include "lab.h"

void
lab_svg_escape(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        default:
            // XML 1.0 forbids most control characters, even escaped.
            fputc((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t' ? ' '
                                                                       : *s,
                  f);
        }
    }
}

void
lab_svg_begin(FILE *f, double w, double h, const char *title)
{
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
            "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
            "font-family=\"sans-serif\">\n",
            w, h, w, h);
    if (title != NULL) {
        fputs("<title>", f);
        lab_svg_escape(f, title);
        fputs("</title>\n", f);
    }
    fprintf(f,
            "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" "
            "fill=\"#ffffff\"/>\n",
            w, h);
}

int
lab_svg_end(FILE *f)
{
    fputs("</svg>\n", f);
    return fflush(f) != 0 || ferror(f) ? -1 : 0;
}

void
lab_svg_rect(FILE *f, double x, double y, double w, double h, const char *fill,
             const char *tip)
{
    fprintf(f,
            "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
            "fill=\"",
            x, y, w < 0 ? 0 : w, h < 0 ? 0 : h);
    lab_svg_escape(f, fill);
    if (tip == NULL) {
        fputs("\"/>\n", f);
        return;
    }
    fputs("\"><title>", f);
    lab_svg_escape(f, tip);
    fputs("</title></rect>\n", f);
}

void
lab_svg_line(FILE *f, double x1, double y1, double x2, double y2,
             const char *stroke, double width)
{
    fprintf(f,
            "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
            "stroke=\"",
            x1, y1, x2, y2);
    lab_svg_escape(f, stroke);
    fprintf(f, "\" stroke-width=\"%.2f\"/>\n", width);
}

void
lab_svg_text(FILE *f, double x, double y, double size, const char *anchor,
             const char *fill, const char *text)
{
    fprintf(f,
            "<text x=\"%.2f\" y=\"%.2f\" font-size=\"%.1f\" "
            "text-anchor=\"",
            x, y, size);
    lab_svg_escape(f, anchor);
    fputs("\" fill=\"", f);
    lab_svg_escape(f, fill);
    fputs("\">", f);
    lab_svg_escape(f, text);
    fputs("</text>\n", f);
}

const char *
lab_svg_color(int i)
{
    static const char *const palette[] = {
        "#0072b2", "#e69f00", "#009e73", "#d55e00",
        "#56b4e9", "#cc79a7", "#f0e442", "#000000",
    };
    int n = (int)(sizeof palette / sizeof palette[0]);
    return palette[((i % n) + n) % n];
}
