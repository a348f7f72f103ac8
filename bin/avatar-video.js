#!/usr/bin/env node
// `npx avatar-video …`: runs the TypeScript command line (cli/main.ts) through tsx's require
// hook, so there is no build step and no npm banner (npx runs this file directly).
require('tsx/cjs');
require('../cli/main.ts').runAndExit(process.argv.slice(2));
