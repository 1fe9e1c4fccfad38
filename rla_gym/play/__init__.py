"""`rla-gym play`: drive the world model and ManiSkill side by side from a local web page.

One module per concept: `session` (one world-model world and, when the simulator runs, one ManiSkill env stepped
with the same joint-target chunks; the tab that holds them), `simulator` (the ManiSkill side), `server` (a stdlib
HTTP server: the page and a small JSON API) and `page.html` (plain HTML + JS). Nothing here is imported by
`import rla_gym`; it needs no package beyond the core ones (ManiSkill, the `sim` extra, for the simulator side)."""
