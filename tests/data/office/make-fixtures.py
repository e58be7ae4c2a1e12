#!/usr/bin/env python3
"""Writes the office documents of tests/data/office (see README.md there).

OOXML (.docx, .xlsx, .pptx) and OpenDocument (.odt, .ods, .odp) files are zip archives
of XML parts, written here with fixed timestamps so that the output is the same
on every run. The legacy binary formats (.doc, .xls, .ppt) are converted from
OpenDocument sources by LibreOffice (Debian 12 packages libreoffice-writer-nogui,
libreoffice-calc-nogui), which is needed only to regenerate them: the tests read
the committed files. There is no .ppt here: LibreOffice writes slide text only
into the slides' drawings, which catppt 0.95 does not read (see README.md).

Usage: make-fixtures.py [OUTPUT_DIR]   (default: the directory of this script)
"""
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

FIXED_TIME = (2024, 1, 2, 3, 4, 6)


def write_zip(path, parts, first_stored=None):
    """parts: list of (name, text). first_stored: a part written uncompressed
    first, as OpenDocument requires of `mimetype`."""
    with zipfile.ZipFile(path, "w") as z:
        for name, text in parts:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_STORED if name == first_stored else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, text.encode("utf-8"), compresslevel=9)


# --- OOXML -------------------------------------------------------------------

RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
S_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def package_rels(target):
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="{RELS_NS}">'
            f'<Relationship Id="rId1" Type="{DOC_REL}" Target="{target}"/></Relationships>')


def content_types(overrides):
    """[Content_Types].xml: overrides maps part names to their content types."""
    parts = "".join(f'<Override PartName="{name}" ContentType="{ctype}"/>'
                    for name, ctype in overrides.items())
    return ("[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            f'<Default Extension="xml" ContentType="application/xml"/>{parts}</Types>')


OOXML_TYPE = "application/vnd.openxmlformats-officedocument."


def docx_parts(paragraphs):
    # Attributes on <w:p> as Word writes them: docx2txt 1.4 ends a paragraph only
    # at a <w:p ...> that has some (a bare <w:p> runs into the next paragraph).
    body = "".join(f'<w:p w:rsidR="00A1{i:04d}"><w:r><w:t xml:space="preserve">{p}</w:t></w:r></w:p>'
                   for i, p in enumerate(paragraphs))
    return docx_parts_with_body(body)


def docx_parts_with_body(body):
    return [
        content_types({"/word/document.xml": OOXML_TYPE + "wordprocessingml.document.main+xml"}),
        ("_rels/.rels", package_rels("word/document.xml")),
        ("word/_rels/document.xml.rels",
         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{RELS_NS}"/>'),
        ("word/document.xml",
         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         f'<w:document xmlns:w="{W_NS}"><w:body>{body}</w:body></w:document>'),
    ]


A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
P_NS = "http://schemas.openxmlformats.org/presentationml/2006/main"


def pptx_parts(slides):
    """slides: per slide, its paragraphs, each a list of text runs (XML-escaped)."""
    def slide(paragraphs):
        body = "".join("<a:p>" + "".join(f"<a:r><a:rPr lang=\"en-US\"/><a:t>{run}</a:t></a:r>"
                                         for run in runs) + "</a:p>"
                       for runs in paragraphs)
        return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<p:sld xmlns:a="{A_NS}" xmlns:p="{P_NS}" xmlns:r="{R_NS}"><p:cSld><p:spTree>'
                f'<p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr>'
                f'<p:grpSpPr/><p:sp><p:nvSpPr><p:cNvPr id="2" name="Text 1"/><p:cNvSpPr txBox="1"/>'
                f'<p:nvPr/></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/><a:lstStyle/>{body}'
                f'</p:txBody></p:sp></p:spTree></p:cSld></p:sld>')
    names = [f"ppt/slides/slide{i + 1}.xml" for i in range(len(slides))]
    ids = "".join(f'<p:sldId id="{256 + i}" r:id="rId{i + 1}"/>' for i in range(len(slides)))
    rels = "".join(f'<Relationship Id="rId{i + 1}" Type="{R_NS}/slide" Target="slides/slide{i + 1}.xml"/>'
                   for i in range(len(slides)))
    overrides = {"/ppt/presentation.xml": OOXML_TYPE + "presentationml.presentation.main+xml"}
    overrides.update({"/" + n: OOXML_TYPE + "presentationml.slide+xml" for n in names})
    return [
        content_types(overrides),
        ("_rels/.rels", package_rels("ppt/presentation.xml")),
        ("ppt/_rels/presentation.xml.rels",
         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{RELS_NS}">{rels}</Relationships>'),
        ("ppt/presentation.xml",
         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         f'<p:presentation xmlns:a="{A_NS}" xmlns:p="{P_NS}" xmlns:r="{R_NS}">'
         f'<p:sldIdLst>{ids}</p:sldIdLst><p:sldSz cx="9144000" cy="6858000"/></p:presentation>'),
    ] + [(n, slide(s)) for n, s in zip(names, slides)]


def xlsx_parts(rows):
    strings = []
    def cell(ref, value):
        if isinstance(value, (int, float)):
            return f'<c r="{ref}"><v>{value}</v></c>'
        strings.append(value)
        return f'<c r="{ref}" t="s"><v>{len(strings) - 1}</v></c>'
    sheet_rows = ""
    for r, row in enumerate(rows, start=1):
        cells = "".join(cell(f"{chr(ord('A') + c)}{r}", v) for c, v in enumerate(row))
        sheet_rows += f'<row r="{r}">{cells}</row>'
    shared = "".join(f"<si><t>{s}</t></si>" for s in strings)
    return [
        content_types({"/xl/workbook.xml": OOXML_TYPE + "spreadsheetml.sheet.main+xml",
                       "/xl/worksheets/sheet1.xml": OOXML_TYPE + "spreadsheetml.worksheet+xml",
                       "/xl/sharedStrings.xml": OOXML_TYPE + "spreadsheetml.sharedStrings+xml"}),
        ("_rels/.rels", package_rels("xl/workbook.xml")),
        ("xl/workbook.xml",
         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         f'<workbook xmlns="{S_NS}" xmlns:r="{R_NS}"><sheets>'
         f'<sheet name="Inventory" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        ("xl/_rels/workbook.xml.rels",
         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{RELS_NS}">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
         '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'),
        ("xl/worksheets/sheet1.xml",
         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         f'<worksheet xmlns="{S_NS}"><sheetData>{sheet_rows}</sheetData></worksheet>'),
        ("xl/sharedStrings.xml",
         f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         f'<sst xmlns="{S_NS}" count="{len(strings)}" uniqueCount="{len(strings)}">{shared}</sst>'),
    ]


# --- OpenDocument -----------------------------------------------------------

ODF_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
          'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
          'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
          'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"')
ODF_TYPES = {
    "text": "application/vnd.oasis.opendocument.text",
    "spreadsheet": "application/vnd.oasis.opendocument.spreadsheet",
    "presentation": "application/vnd.oasis.opendocument.presentation",
}


def odf_parts(kind, body):
    mime = ODF_TYPES[kind]
    return [
        ("mimetype", mime),
        ("META-INF/manifest.xml",
         '<?xml version="1.0" encoding="UTF-8"?>\n'
         '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
         'manifest:version="1.2">'
         f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{mime}"/>'
         '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
         '</manifest:manifest>'),
        ("content.xml",
         f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content {ODF_NS} '
         f'office:version="1.2"><office:body><office:{kind}>{body}</office:{kind}>'
         '</office:body></office:document-content>'),
    ]


def odt(paragraphs):
    return odf_parts("text", "".join(f"<text:p>{p}</text:p>" for p in paragraphs))


def ods(rows):
    def cell(v):
        if isinstance(v, (int, float)):
            return f'<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>'
        return f'<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>'
    body = "".join("<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>"
                   for row in rows)
    return odf_parts("spreadsheet", f'<table:table table:name="Sheet1">{body}</table:table>')


def odp(lines):
    frames = "".join(
        f'<draw:frame svg:x="2cm" svg:y="{2 + 3 * i}cm" svg:width="20cm" svg:height="2cm">'
        f'<draw:text-box><text:p>{line}</text:p></draw:text-box></draw:frame>'
        for i, line in enumerate(lines))
    return odf_parts("presentation", f'<draw:page draw:name="Slide1">{frames}</draw:page>')


def convert_with_libreoffice(source_parts, source_name, filter_spec, out_path):
    with tempfile.TemporaryDirectory() as work:
        src = os.path.join(work, source_name)
        write_zip(src, source_parts, first_stored="mimetype")
        subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{work}/profile",
                        "--convert-to", filter_spec, "--outdir", work, src],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        produced = os.path.join(work, os.path.splitext(source_name)[0] + "." + filter_spec.split(":")[0])
        shutil.copyfile(produced, out_path)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    path = lambda name: os.path.join(out, name)
    # One distinctive word per format, plus "Zürich" to check that non-ASCII text
    # comes out as UTF-8.
    write_zip(path("marmoset.docx"), docx_parts(["Quarterly marmoset report", "Greetings from Zürich"]))
    write_zip(path("narwhal.xlsx"), xlsx_parts([["item", "count"], ["narwhal tusks", 4711],
                                                ["office", "Zürich"]]))
    # A word split over two runs, as PowerPoint splits text where its formatting
    # or spell-checking state changes, and an entity.
    write_zip(path("quokka.pptx"), pptx_parts([[["Quokka ", "launch pl", "an"]],
                                               [["Greetings from Zürich"], ["Tom &amp; Jerry"]]]))
    write_zip(path("axolotl.odt"), odt(["Axolotl minutes of the meeting", "Greetings from Zürich"]),
              first_stored="mimetype")
    write_zip(path("pangolin.ods"), ods([["item", "count"], ["pangolin scales", 4712],
                                         ["office", "Zürich"]]), first_stored="mimetype")
    write_zip(path("okapi.odp"), odp(["Okapi roadmap", "Greetings from Zürich"]),
              first_stored="mimetype")
    if shutil.which("soffice"):
        convert_with_libreoffice(odt(["Wombat contract draft", "Greetings from Zürich"]),
                                 "wombat.odt", 'doc:MS Word 97', path("wombat.doc"))
        convert_with_libreoffice(ods([["item", "count"], ["capybara forecast", 4713],
                                      ["office", "Zürich"]]),
                                 "capybara.ods", 'xls:MS Excel 97', path("capybara.xls"))
    else:
        print("soffice not found: .doc, .xls and .ppt not regenerated", file=sys.stderr)
    # Hostile: a .docx whose document.xml inflates about 300-fold, to 32 MiB.
    paragraph = '<w:p w:rsidR="00B1"><w:r><w:t>filler filler filler filler</w:t></w:r></w:p>'
    write_zip(path("bomb.docx"), docx_parts_with_body(paragraph * ((32 << 20) // len(paragraph))))
    # The same for a .pptx: one slide of 32 MiB of paragraphs.
    run = ["filler filler filler filler"]
    write_zip(path("bomb.pptx"), pptx_parts([[run] * ((32 << 20) // 120)]))


if __name__ == "__main__":
    main()
