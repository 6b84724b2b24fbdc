"""Print one edition's single-page build to PDF with headless Chromium.

    python tools/build_pdf.py _build/en/singlehtml/index.html _build/pdf/book-en.pdf

Why this route and not Sphinx's LaTeX builder: the site tests already drive Debian's
Chromium, so the PDF needs no other large system package (TeX Live with its Chinese
support is about 1 GB; here only a CJK font, ``fonts-noto-cjk``, is added), and the PDF
is made from the very HTML the site shows: the same offline MathJax typesets the math,
the SVG figures stay vector graphics, the Chinese edition keeps its translated captions,
and nothing about the pages has to be written twice (no LaTeX preamble to keep in step
with the HTML templates). Chromium embeds every font it uses and writes the bookmarks
from the headings (``outline=True``, which needs a tagged PDF).

What this script adds to the page before printing (``docs/_static/print.css`` does the
rest): the hidden exercise solutions opened under a "Solution" heading, the tables of
contents after the title page, a page break before every chapter, and the page numbers
in the footer. The title page comes from the build itself (``docs/_ext/print_edition.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("BOOK_CHROMIUM", "/usr/bin/chromium"))
# Debian's Chromium, as the PDF build and the site tests (tests/site_conftest.py) run it:
# no sandbox, as root in a container.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PRINT_CSS = ROOT / "docs" / "_static" / "print.css"

# Runs in the page: open what the site hides, add the contents and the chapter breaks.
PREPARE_PAGE = """
async () => {
  const titlePage = document.querySelector(".print-title-page");
  if (!titlePage) throw new Error("no title page: was the page built by nox -s pdf?");
  const solution = titlePage.dataset.solutionHeading;

  // Exercise solutions (cells hidden by myst-nb): open them under a "Solution" heading.
  for (const details of document.querySelectorAll("details")) {
    details.open = true;
    const summary = details.querySelector(":scope > summary");
    if (details.classList.contains("hide") && summary) {
      const heading = document.createElement("p");
      heading.className = "print-solution-heading";
      heading.textContent = solution;
      summary.replaceWith(heading);
    }
  }
  // Dropdown admonitions (sphinx-togglebutton): shown in full, without their button.
  for (const hidden of document.querySelectorAll(".toggle-hidden")) {
    hidden.classList.remove("toggle-hidden");
  }
  for (const button of document.querySelectorAll("button.toggle-button")) button.remove();

  // Chapters. Sphinx's single page nests every document of the toctree inside the
  // landing page's "Contents" section; the book has the landing page (the preface) and
  // then each chapter at the same level, so each gets a bookmark of its own.
  for (const link of document.querySelectorAll(".headerlink")) link.remove();
  const preface = titlePage.nextElementSibling;
  const sections = [preface];
  let last = preface;
  for (const marker of document.querySelectorAll('span[id^="document-"]')) {
    let section = marker.nextElementSibling;
    while (section && section.tagName !== "SECTION") section = section.nextElementSibling;
    if (!section) continue;
    last.after(marker, section);
    last = section;
    sections.push(section);
  }
  for (const wrapper of document.querySelectorAll(".toctree-wrapper")) {
    const holder = wrapper.parentElement;
    wrapper.remove();
    if (holder.tagName === "SECTION" && holder.children.length === 1) holder.remove();
  }
  // Each chapter's title becomes an h1 and its sections move up with it.
  for (const section of sections) {
    const top = Number(section.querySelector("h1, h2, h3, h4, h5, h6").tagName[1]);
    for (const heading of section.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
      const level = Math.max(1, Number(heading.tagName[1]) - (top - 1));
      const moved = document.createElement("h" + level);
      for (const {name, value} of heading.attributes) moved.setAttribute(name, value);
      moved.append(...heading.childNodes);
      heading.replaceWith(moved);
    }
    section.classList.add("print-chapter");
  }
  const chapters = sections.map((section) => ({
    id: section.id,
    title: section.querySelector("h1").textContent.trim(),
  }));
  const contents = document.createElement("nav");
  contents.className = "print-contents";
  const title = document.createElement("p");
  title.className = "print-contents-title";
  title.textContent = titlePage.dataset.contentsHeading;
  contents.append(title);
  const list = document.createElement("ol");
  for (const chapter of chapters) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = "#" + chapter.id;
    link.textContent = chapter.title;
    item.append(link);
    list.append(item);
  }
  contents.append(list);
  titlePage.after(contents);

  // Wait for the math and the fonts before printing.
  if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
  await document.fonts.ready;
  return chapters.map((chapter) => chapter.title);
}
"""

FOOTER = (
    '<div style="width: 100%; font-size: 8pt; text-align: center; color: #555;">'
    '<span class="pageNumber"></span></div>'
)


def print_pdf(html: Path, pdf: Path) -> list[str]:
    """Print ``html`` to ``pdf``; return the titles of the chapters it found."""
    from playwright.sync_api import sync_playwright

    pdf.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.emulate_media(media="print")
            page.goto(html.resolve().as_uri(), wait_until="load")
            page.add_style_tag(path=str(PRINT_CSS))
            chapters = page.evaluate(PREPARE_PAGE)
            page.pdf(
                path=str(pdf),
                format="A4",
                margin={"top": "18mm", "bottom": "20mm", "left": "16mm", "right": "16mm"},
                print_background=True,
                display_header_footer=True,
                header_template="<div></div>",
                footer_template=FOOTER,
                outline=True,
                tagged=True,
            )
        finally:
            browser.close()
    return chapters


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", type=Path, help="the singlehtml build's index.html")
    parser.add_argument("pdf", type=Path, help="the PDF to write")
    args = parser.parse_args(argv)
    if not args.html.is_file():
        parser.error(f"no single-page build at {args.html}")
    if not CHROMIUM.is_file():
        parser.error(f"no Chromium at {CHROMIUM}: install Debian's chromium or set BOOK_CHROMIUM")
    chapters = print_pdf(args.html, args.pdf)
    size = args.pdf.stat().st_size / 2**20
    print(f"{args.pdf}: {len(chapters)} chapters, {size:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
