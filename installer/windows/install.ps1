<#
.SYNOPSIS
  Installs algd as a Windows service (WinSW), with restart on failure, an
  Event Log source and per-plugin Enable flags in the registry.

.DESCRIPTION
  Checks administrator rights, Node.js, the WinSW executable, the
  configuration (with algd itself) and the WinDivert files, then writes the
  WinSW service definition, the registry flags HKLM\SOFTWARE\algd\Plugins\<name>
  (Enable, REG_DWORD), registers the Event Log source, registers the service
  and starts it. What is written is computed by service-plan.js (tested);
  this script only checks the machine and carries the plan out.
  Parameters and exit codes: installer/README.md.

.EXAMPLE
  .\install.ps1 -WinSWPath C:\Downloads\WinSW-x64.exe -ConfigPath C:\ProgramData\algd\algd.json
#>
[CmdletBinding()]
param(
  [Parameter(Mandatory = $true)][string]$WinSWPath,
  [string]$ConfigPath = 'C:\ProgramData\algd\algd.json',
  [string]$InstallDir = '',
  [string]$NodePath = '',
  [string]$WinDivertPath = '',
  [string]$ServiceName = 'algd',
  [string]$EventLogSource = '',
  [string]$LogDir = 'C:\ProgramData\algd\logs',
  [string[]]$EnablePlugins = @('ftp', 'sip', 'rtsp'),
  [string[]]$DisablePlugins = @(),
  [switch]$NoStart,
  [switch]$DryRun
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

# Exit codes, as documented in installer/README.md.
$ExitOk = 0; $ExitFailed = 1; $ExitUsage = 2; $ExitPrerequisite = 3

function Fail([int]$Code, [string]$Message) {
  [Console]::Error.WriteLine("install.ps1: $Message")
  exit $Code
}

# Runs a program from the plan (no shell, arguments as given) and stops on a non-zero exit code.
function Invoke-PlanCommand($Command) {
  $display = "$($Command.exe) $($Command.args -join ' ')"
  if ($DryRun) { Write-Output "would run: $display"; return }
  Write-Output "running: $display"
  $cmdArgs = @($Command.args)
  & $Command.exe @cmdArgs
  if ($LASTEXITCODE -ne 0) { Fail $ExitFailed "$display failed (exit code $LASTEXITCODE)" }
}

# Administrator rights: the service, HKLM and the Event Log source all need them.
$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $DryRun -and -not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
  Fail $ExitPrerequisite 'run this from an elevated PowerShell (Run as administrator)'
}

if ($InstallDir -eq '') { $InstallDir = (Resolve-Path (Join-Path $PSScriptRoot '..\..')).Path }
$InstallDir = $InstallDir.TrimEnd('\')
if ($NodePath -eq '') {
  $node = Get-Command node.exe -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
  if ($null -eq $node) { Fail $ExitPrerequisite 'node.exe is not on PATH: install Node.js 20 or newer, or pass -NodePath' }
  $NodePath = $node.Source
}
if (-not (Test-Path -LiteralPath $NodePath -PathType Leaf)) { Fail $ExitPrerequisite "NodePath $NodePath does not exist" }
if (-not (Test-Path -LiteralPath $WinSWPath -PathType Leaf)) { Fail $ExitPrerequisite "WinSWPath $WinSWPath does not exist (download WinSW-x64.exe from https://github.com/winsw/winsw/releases)" }
$planScript = Join-Path $PSScriptRoot 'service-plan.js'
$algdScript = Join-Path $InstallDir 'dist\host\cli\algd.js'
if (-not (Test-Path -LiteralPath $algdScript -PathType Leaf)) { Fail $ExitPrerequisite "$algdScript does not exist: InstallDir must be a built algd folder (npm install; npm run build)" }
if (-not (Test-Path -LiteralPath $ConfigPath -PathType Leaf)) { Fail $ExitUsage "ConfigPath $ConfigPath does not exist: write the configuration first (README.md, Configuration)" }

# The configuration, validated by algd itself; its windivert.path and Event Log source must agree with the parameters.
$checked = & $NodePath $algdScript config check $ConfigPath --json
if ($LASTEXITCODE -ne 0) { Fail $ExitUsage "the configuration $ConfigPath is not valid (algd config check says why, above)" }
$config = ($checked -join "`n" | ConvertFrom-Json).config

$plugins = @{}
foreach ($p in $EnablePlugins) { $plugins[$p] = $true }
foreach ($p in $DisablePlugins) {
  if ($plugins.ContainsKey($p)) { Fail $ExitUsage "plugin $p is named in both -EnablePlugins and -DisablePlugins" }
  $plugins[$p] = $false
}
$params = @{
  serviceName = $ServiceName; installDir = $InstallDir; nodePath = $NodePath; configPath = $ConfigPath
  logDir = $LogDir.TrimEnd('\'); plugins = $plugins; config = $config
}
if ($WinDivertPath -ne '') { $params.winDivertPath = $WinDivertPath.TrimEnd('\') }
if ($EventLogSource -ne '') { $params.eventLogSource = $EventLogSource }

# Parameters travel to Node in an environment variable: no native-command quoting on the way.
$env:ALGD_SERVICE_PLAN = ConvertTo-Json $params -Depth 20 -Compress
$planJson = & $NodePath $planScript install
$planExit = $LASTEXITCODE
Remove-Item Env:\ALGD_SERVICE_PLAN
$plan = $planJson -join "`n" | ConvertFrom-Json
if ($planExit -ne 0) { Fail $ExitUsage $plan.error }

foreach ($f in $plan.winDivertFiles) {
  if (-not (Test-Path -LiteralPath $f -PathType Leaf)) {
    Fail $ExitPrerequisite "$f is missing: put WinDivert.dll and WinDivert64.sys (WinDivert 2.2, https://reqrypt.org/windivert.html) in $($plan.winDivertPath), or pass -WinDivertPath"
  }
}
if (-not $DryRun -and $null -ne (Get-Service -Name $plan.serviceName -ErrorAction SilentlyContinue)) {
  Fail $ExitUsage "a service named $($plan.serviceName) exists already: run uninstall.ps1 first"
}

if ($DryRun) {
  Write-Output "would create $($plan.serviceDir) and $($plan.logDir)"
  Write-Output "would copy $WinSWPath to $($plan.wrapperExe)"
  Write-Output "would write $($plan.wrapperXml):"
  Write-Output $plan.serviceXml
} else {
  New-Item -ItemType Directory -Force -Path $plan.serviceDir | Out-Null
  New-Item -ItemType Directory -Force -Path $plan.logDir | Out-Null
  Copy-Item -LiteralPath $WinSWPath -Destination $plan.wrapperExe -Force
  # UTF-8 without a byte order mark, exactly the plan's bytes.
  [IO.File]::WriteAllText($plan.wrapperXml, $plan.serviceXml, (New-Object Text.UTF8Encoding $false))
  Write-Output "wrote $($plan.wrapperXml)"
}

foreach ($c in $plan.registry) { Invoke-PlanCommand $c }
foreach ($c in $plan.eventLog) { Invoke-PlanCommand $c }
if (-not $DryRun) { New-Item -ItemType Directory -Force -Path $plan.keyDir | Out-Null }
foreach ($c in $plan.keyDirAccess) { Invoke-PlanCommand $c }
Invoke-PlanCommand @{ exe = $plan.wrapperExe; args = @('install') }
if (-not $NoStart) { Invoke-PlanCommand @{ exe = $plan.wrapperExe; args = @('start') } }

Write-Output "installed service $($plan.serviceName); status: & '$NodePath' '$($plan.algdScript)' status --config '$ConfigPath'"
exit $ExitOk
