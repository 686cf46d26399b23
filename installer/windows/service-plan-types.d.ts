/** The shapes of service-plan.js's parameters and plans (install.ps1 and uninstall.ps1 carry the plans out). */

/** A program and its arguments, run without a shell (`& $exe @args` in PowerShell). */
export interface Command {
  readonly exe: string;
  readonly args: readonly string[];
  /** Run only when this probe exits 0 (e.g. delete a registry key only when `reg query` finds it). */
  readonly onlyIf?: Command;
}

/** What `algd config check --json` printed as `config`, as far as the installer reads it. */
export interface ConfigSubset {
  readonly driver?: string;
  readonly windivert?: { readonly path?: string };
  readonly logging?: { readonly eventLog?: { readonly source?: string } };
}

export interface InstallParams {
  readonly serviceName: string;
  /** The algd folder (package.json, dist\, node_modules\). */
  readonly installDir: string;
  readonly nodePath: string;
  readonly configPath: string;
  /** Where WinSW writes the service's stdout and stderr. */
  readonly logDir: string;
  /** Folder of WinDivert.dll and WinDivert64.sys; default the configuration's windivert.path, else node.exe's folder (algd's default). */
  readonly winDivertPath?: string;
  /** Default the configuration's logging.eventLog.source, else `algd`. */
  readonly eventLogSource?: string;
  /** Plugin name → Enable flag written to HKLM\SOFTWARE\algd\Plugins\<name>. */
  readonly plugins?: Readonly<Record<string, boolean>>;
  readonly config?: ConfigSubset;
  /** %ProgramData%; default the environment's, else C:\ProgramData. */
  readonly programData?: string;
}

export interface InstallPlan {
  readonly serviceName: string;
  readonly serviceDir: string;
  /** The WinSW executable, copied here under the service's name. */
  readonly wrapperExe: string;
  readonly wrapperXml: string;
  /** The WinSW service definition written to wrapperXml (UTF-8, CRLF). */
  readonly serviceXml: string;
  readonly algdScript: string;
  readonly winDivertPath: string;
  /** Files that must exist before the service is registered. */
  readonly winDivertFiles: readonly string[];
  readonly eventLogSource: string;
  readonly logDir: string;
  readonly registry: readonly Command[];
  readonly eventLog: readonly Command[];
  /** %ProgramData%\algd, where the service keeps its admin key: only Administrators and SYSTEM may enter. */
  readonly keyDir: string;
  /** Restricts keyDir (icacls, by well-known SIDs so any Windows language works). */
  readonly keyDirAccess: readonly Command[];
}

export interface UninstallParams {
  readonly serviceName: string;
  readonly installDir: string;
  readonly eventLogSource?: string;
}

export interface UninstallPlan {
  readonly serviceName: string;
  readonly serviceDir: string;
  readonly wrapperExe: string;
  readonly wrapperXml: string;
  readonly registry: readonly Command[];
}

