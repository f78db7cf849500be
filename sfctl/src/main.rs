//! sfctl: the operator's tool for the routing state that stateful-executor keeps in Redis.
//! `sfctl --help` and docs/sfctl.md describe it; cli.rs holds every command and flag.

mod backup;
mod check;
mod cli;
mod conn;
mod drain;
mod fail;
mod layout;
mod out;
mod read;
mod scan;
mod write;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, Context};
use crate::fail::{Result, USAGE};
use crate::out::Out;

fn run(cli: &Cli) -> Result<u8> {
    let target = cli.connect.target()?;
    let mut ctx = Context {
        target,
        out: Out::new(cli.json),
    };
    let code = match &cli.command {
        Command::States(args) => read::states(&mut ctx, args),
        Command::Workload(args) => read::workload(&mut ctx, args),
        Command::Link(args) => read::link(&mut ctx, args),
        Command::LinksOfPod(args) => read::links_of_pod(&mut ctx, args),
        Command::SetState(args) => write::set_state(&mut ctx, args),
        Command::SetWorkload(args) => write::set_workload(&mut ctx, args),
        Command::SetLink(args) => write::set_link(&mut ctx, args),
        Command::Unlink(args) => write::unlink(&mut ctx, args),
        Command::Drain(args) => drain::drain(&mut ctx, args),
        Command::Check(args) => check::check(&mut ctx, args),
        Command::Export(args) => backup::export(&mut ctx, args),
        Command::Import(args) => backup::import(&mut ctx, args),
    }?;
    ctx.out.flush()?;
    Ok(code)
}

fn main() -> ExitCode {
    // Usage errors exit with 2, --help and --version with 0, before anything connects.
    let cli = Cli::parse();
    // redis-rs's TLS uses the process's default provider; the library brings its own.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(fail) => {
            if !fail.message.is_empty() {
                eprintln!("sfctl: {}", fail.message);
                if fail.code == USAGE {
                    eprintln!("Try 'sfctl --help' for more information.");
                }
            }
            ExitCode::from(fail.code)
        }
    }
}
