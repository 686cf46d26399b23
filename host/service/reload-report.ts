/**
 * What a configuration reload did, as `algd reload` prints it and the
 * admin API returns it. `rejected`: the file was invalid, nothing changed
 * (`errors` name the paths). Otherwise `changes` were applied, `errors` list
 * the plugin changes that failed (those plugins keep their old settings),
 * and `needsRestart` the changed keys that only a restart applies (they keep
 * their running values).
 */
export interface ReloadReport {
  readonly source: string;
  readonly rejected: boolean;
  readonly changes: readonly string[];
  readonly needsRestart: readonly string[];
  readonly errors: readonly string[];
}
