// Child process of logger-flush.test.ts: loads host/logging from source (transpiled on the fly), logs
// argv[2] lines to the file argv[3] (rotated at argv[5] MB, argv[6] files), then exits at once after closeLogger.
'use strict';
const fs = require('node:fs');
const ts = require('typescript');
require.extensions['.ts'] = (module, file) => {
  const out = ts.transpileModule(fs.readFileSync(file, 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
  module._compile(out.outputText, file);
};
const { createLogger, closeLogger, sessionLogger } = require('../../../host/logging/logger.ts');
const [count, path, , maxSizeMb, maxFiles] = process.argv.slice(2);
const logger = createLogger({ level: 'info', console: { format: 'json' }, file: { path, maxSizeMb: Number(maxSizeMb ?? 10), maxFiles: Number(maxFiles ?? 5) } });
const session = sessionLogger(logger, 'ftp-7', 'ftp');
for (let i = 0; i < Number(count); i++) session.info(`line ${i}`, { i });
closeLogger(logger).then(() => process.exit(0));
