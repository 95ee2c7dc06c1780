// Copies what tsc does not: the Lua scripts, next to the built store, and the
// coordinator's dashboard (HTML, JS, CSS), next to its routes. The
// folder is emptied first, so a script renamed in src (a new version) leaves
// no stale copy in dist/ for the loader to refuse.
import { cpSync, mkdirSync, rmSync } from 'node:fs'

rmSync('dist/store/lua', { recursive: true, force: true })
mkdirSync('dist/store/lua', { recursive: true })
cpSync('src/store/lua', 'dist/store/lua', { recursive: true })

rmSync('dist/coordinator/dashboard', { recursive: true, force: true })
mkdirSync('dist/coordinator/dashboard', { recursive: true })
cpSync('src/coordinator/dashboard', 'dist/coordinator/dashboard', { recursive: true })
