// Jest reporter: under ALGD_REQUIRE_ALL=1 (CI and the README's test
// command) a run that skipped any test, or ran none, fails. A developer
// without root may skip the end-to-end tests; CI never may.
class RequireAllReporter {
  constructor() {
    this.error = undefined;
  }

  onRunComplete(_contexts, results) {
    if (process.env.ALGD_REQUIRE_ALL !== '1') return;
    const skipped = [];
    for (const file of results.testResults) {
      for (const t of file.testResults) {
        if (t.status === 'pending' || t.status === 'skipped' || t.status === 'todo' || t.status === 'disabled') skipped.push(t.fullName);
      }
    }
    if (skipped.length > 0) {
      this.error = new Error(`ALGD_REQUIRE_ALL=1 but ${skipped.length} test(s) were skipped:\n  ${skipped.join('\n  ')}`);
    } else if (results.numTotalTests === 0) {
      this.error = new Error('ALGD_REQUIRE_ALL=1 but no test ran');
    }
    if (this.error) process.stderr.write(`\n${this.error.message}\n`);
  }

  getLastError() {
    return this.error;
  }
}
module.exports = RequireAllReporter;
