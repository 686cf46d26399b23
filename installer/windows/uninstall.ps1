<#
.SYNOPSIS
  Stops and removes the algd Windows service, its WinSW files, the registry
  key HKLM\SOFTWARE\algd (plugin flags) and the Event Log source.

.DESCRIPTION
  The configuration file and the log folder stay. What is removed is
  computed by service-plan.js (tested); this script carries the plan out.
  Parameters and exit codes: installer/README.md.

.EXAMPLE
  .\uninstall.ps1
#>
[CmdletBinding()]
param(
  [string]$InstallDir = '',
  [string]$NodePath = '',
  [string]$ServiceName = 'algd',
  [string]$EventLogSource = 'algd',
  [switch]$DryRun
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

# Exit codes, as documented in installer/README.md.
$ExitOk = 0; $ExitFailed = 1; $ExitUsage = 2; $ExitPrerequisite = 3

function Fail([int]$Code, [string]$Message) {
  [Console]::Error.WriteLine("uninstall.ps1: $Message")
  exit $Code
}

# Runs a program from the plan; a failure is reported and counted, and the rest is still removed.
$script:failures = 0
function Invoke-PlanCommand($Command) {
  $display = "$($Command.exe) $($Command.args -join ' ')"
  if ($null -ne $Command.PSObject.Properties['onlyIf']) {
    $probeArgs = @($Command.onlyIf.args)
    & $Command.onlyIf.exe @probeArgs *> $null
    if ($LASTEXITCODE -ne 0) { Write-Output "nothing to do: $display"; return }
  }
  if ($DryRun) { Write-Output "would run: $display"; return }
  Write-Output "running: $display"
  $cmdArgs = @($Command.args)
  & $Command.exe @cmdArgs
  if ($LASTEXITCODE -ne 0) {
    [Console]::Error.WriteLine("uninstall.ps1: $display failed (exit code $LASTEXITCODE)")
    $script:failures++
  }
}

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $DryRun -and -not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
  Fail $ExitPrerequisite 'run this from an elevated PowerShell (Run as administrator)'
}

if ($InstallDir -eq '') { $InstallDir = (Resolve-Path (Join-Path $PSScriptRoot '..\..')).Path }
$InstallDir = $InstallDir.TrimEnd('\')
if ($NodePath -eq '') {
  $node = Get-Command node.exe -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
  if ($null -eq $node) { Fail $ExitPrerequisite 'node.exe is not on PATH: pass -NodePath' }
  $NodePath = $node.Source
}

$env:ALGD_SERVICE_PLAN = ConvertTo-Json @{ serviceName = $ServiceName; installDir = $InstallDir; eventLogSource = $EventLogSource } -Compress
$planJson = & $NodePath (Join-Path $PSScriptRoot 'service-plan.js') uninstall
$planExit = $LASTEXITCODE
Remove-Item Env:\ALGD_SERVICE_PLAN
$plan = $planJson -join "`n" | ConvertFrom-Json
if ($planExit -ne 0) { Fail $ExitUsage $plan.error }

if (Test-Path -LiteralPath $plan.wrapperExe -PathType Leaf) {
  # WinSW's stop sends Ctrl+C, so algd removes its filter and mappings before it exits.
  if ($null -ne (Get-Service -Name $plan.serviceName -ErrorAction SilentlyContinue)) {
    Invoke-PlanCommand @{ exe = $plan.wrapperExe; args = @('stop') }
    Invoke-PlanCommand @{ exe = $plan.wrapperExe; args = @('uninstall') }
  }
} elseif ($null -ne (Get-Service -Name $plan.serviceName -ErrorAction SilentlyContinue)) {
  Fail $ExitFailed "service $($plan.serviceName) exists but $($plan.wrapperExe) does not: it was not installed by this script (wrong -InstallDir?)"
}

foreach ($c in $plan.registry) { Invoke-PlanCommand $c }

if ($DryRun) {
  Write-Output "would remove $($plan.wrapperExe), $($plan.wrapperXml) and the logs WinSW wrote next to them"
} elseif (Test-Path -LiteralPath $plan.serviceDir) {
  Remove-Item -LiteralPath $plan.serviceDir -Recurse -Force
}

if ($script:failures -gt 0) { Fail $ExitFailed "$script:failures step(s) failed, see above" }
Write-Output "removed service $($plan.serviceName); the configuration and the log folder are kept"
exit $ExitOk
