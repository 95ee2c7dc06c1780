// Copies what tsc does not: the Lua scripts, next to the built store.
import { cpSync, mkdirSync } from 'node:fs'

mkdirSync('dist/store/lua', { recursive: true })
cpSync('src/store/lua', 'dist/store/lua', { recursive: true })
