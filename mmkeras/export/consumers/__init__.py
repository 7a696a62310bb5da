"""Scripts for consumers of exported models, run by path (export
verification runs them in fresh processes). They import no mmkeras."""
