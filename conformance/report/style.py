"""The page's one inline stylesheet (no external assets, no JavaScript)."""

CSS = """
:root{--pass:#1a7f37;--pass-bg:#dafbe1;--fail:#cf222e;--fail-bg:#ffebe9;--known:#9a6700;
--known-bg:#fff8c5;--skip:#57606a;--skip-bg:#eaeef2;--differs:#8250df;--differs-bg:#fbefff;
--error:#bc4c00;--error-bg:#fff1e5;--line:#d0d7de;--muted:#57606a}
*{box-sizing:border-box}
body{font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;
margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1400px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 10px;
border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.muted{color:var(--muted)}.small{font-size:12px}
.banner{border-radius:8px;padding:16px 20px;margin:0 0 16px;color:#fff}
.banner .v{font-size:26px;font-weight:700;letter-spacing:.5px;margin-right:16px}
.banner .why{display:block;margin-top:4px;font-size:15px}
.banner.v0{background:var(--pass)}.banner.v1{background:var(--fail)}
.banner.v2{background:#6e7781}
table{border-collapse:collapse;background:#fff;border:1px solid var(--line)}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#f6f8fa;position:sticky;top:0;z-index:1}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.zero{color:#afb8c1}
td.nz{font-weight:700}
.badge{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;font-weight:600;
white-space:nowrap}
.b-PASS,.b-0{background:var(--pass-bg);color:var(--pass)}
.b-FAIL,.b-1{background:var(--fail-bg);color:var(--fail)}
.b-KNOWN{background:var(--known-bg);color:var(--known)}
.b-SKIP,.b-2{background:var(--skip-bg);color:var(--skip)}
.b-DIFFERS{background:var(--differs-bg);color:var(--differs)}
.b-ERROR{background:var(--error-bg);color:var(--error)}
.grade{display:inline-block;padding:0 6px;border-radius:4px;font-size:11px;font-weight:600;
text-transform:uppercase;letter-spacing:.3px;border:1px solid}
.g-documented{color:#0550ae;border-color:#0550ae;background:#ddf4ff}
.g-observed{color:#116329;border-color:#116329;background:#dafbe1}
.g-inferred{color:#8250df;border-color:#8250df;background:#fbefff}
.g-none{color:var(--muted);border-color:var(--line)}
.rid{font-weight:700;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.problem{background:#fff;border:1px solid var(--line);border-left:6px solid var(--fail);
border-radius:6px;padding:10px 14px;margin:10px 0}
.problem.o-DIFFERS{border-left-color:var(--differs)}.problem.o-ERROR{border-left-color:var(--error)}
.problem h4{margin:0 0 4px;font-size:14px;font-weight:600}
.problem .req{margin:4px 0}.problem .why{margin:4px 0;font-weight:600}
.problem .cols{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.problem .cols>div{min-width:0}
.label{font-size:11px;text-transform:uppercase;letter-spacing:.4px;color:var(--muted);
font-weight:600;margin-top:6px}
#matrix{width:100%}
#matrix th.test{font-weight:normal;
font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;
word-break:break-all}
#matrix th.test .ops{display:block;font-family:inherit;word-break:normal;margin-top:2px}
#operations .badge{margin:1px 2px}
.op{display:inline-block;background:#eef1f4;color:#424a53;border-radius:4px;padding:0 5px;
margin:1px 3px 1px 0;font-size:11px}
#matrix tr.group th{background:#eef1f4;font-size:13px;font-weight:normal}
#matrix td.cell{min-width:110px;max-width:260px;font-weight:600;font-size:12px}
#matrix td.cell .why{display:block;font-weight:normal;font-size:11px;line-height:1.3;
margin-top:2px;word-break:break-word}
td.cell[data-outcome=PASS],td.nz[data-count=PASS]{background:var(--pass-bg);color:var(--pass)}
td.cell[data-outcome=FAIL],td.nz[data-count=FAIL]{background:var(--fail-bg);color:var(--fail)}
td.cell[data-outcome=KNOWN],td.nz[data-count=KNOWN]{background:var(--known-bg);color:var(--known)}
td.cell[data-outcome=SKIP],td.nz[data-count=SKIP]{background:var(--skip-bg);color:var(--skip)}
td.cell[data-outcome=DIFFERS],td.nz[data-count=DIFFERS]{background:var(--differs-bg);color:var(--differs)}
td.cell[data-outcome=ERROR],td.nz[data-count=ERROR]{background:var(--error-bg);color:var(--error)}
td.cell[data-outcome=NONE]{background:#fff;color:#afb8c1}
td.cell a{color:inherit}
details summary{cursor:pointer}
.detail dt{font-weight:600;margin-top:6px}.detail dd{margin:2px 0 0}
pre{background:#f6f8fa;border:1px solid var(--line);border-radius:6px;padding:6px 8px;
margin:2px 0;white-space:pre-wrap;word-break:break-word;max-height:320px;overflow:auto;
font-size:12px}
.alert{background:#fff;border-left:4px solid #6e7781;padding:8px 12px;margin:8px 0}
#only-problems:checked ~ table tr.ok{display:none}
.cov-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:16px}
.bar{height:8px;background:var(--fail-bg);border-radius:4px;overflow:hidden;margin:4px 0 8px}
.bar span{display:block;height:100%;background:var(--pass)}
ul.items{list-style:none;padding:0;margin:0;display:flex;flex-wrap:wrap;gap:4px}
ul.items li{padding:1px 7px;border-radius:10px;font-size:12px;
font-family:ui-monospace,Menlo,Consolas,monospace}
li.hit{background:var(--pass-bg);color:var(--pass)}li.gap{background:var(--fail-bg);
color:var(--fail)}
li.extra{background:var(--known-bg);color:var(--known)}
.legend span{margin-right:10px}
nav.toc{font-size:13px;margin:4px 0 12px}nav.toc a{margin-right:12px}
"""
