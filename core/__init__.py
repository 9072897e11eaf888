"""The bottom layer: what every app needs and no app owns. Imports Django,
DRF and libraries only, never an app of this project (the import contract in
.importlinter says so, and `./dev test` checks it)."""
