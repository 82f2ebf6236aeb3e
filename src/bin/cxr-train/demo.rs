//! `cxr-train demo`: the whole pipeline on the embedded synthetic corpus, on CPU — synthesize the
//! six datasets in their native layouts, ingest all six, label statistics, MIMIC pretraining,
//! fine-tuning per dataset from random and MIMIC-pretrained weights (and from DINOv2, ImageNet,
//! DINOv3 or RAD-DINO files when given), evaluation and comparison, the study's table and
//! reports with ROC plots. With weights and no `--model`, the random and MIMIC columns take the
//! architecture of the first weights file (a tiny file gives a tiny, fast demo).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use cxr::benchmark::{BenchmarkPlan, InitSpec};
use cxr::stats::render::{render, Format};
use cxr::train::Init;

use crate::benchmark::{parse_weights, MatrixArgs};
use crate::options::defaults;

#[derive(Args)]
pub struct DemoArgs {
    /// Output folder (data/, store/, bench/)
    #[arg(long, default_value = "cxr-demo")]
    out: PathBuf,
    /// Synthetic images per dataset
    #[arg(long, default_value_t = 400)]
    n: usize,
    /// Stored image side in pixels (32 suits the tiny demo model)
    #[arg(long, default_value_t = 32)]
    size: u32,
    /// Pretrained weights to add as columns: dinov2=FILE,imagenet=FILE,dinov3=FILE,rad-dino=FILE (real ViT-B: use a GPU)
    #[arg(long, value_delimiter = ',')]
    weights: Vec<String>,
    #[command(flatten)]
    matrix: MatrixArgs,
}

pub fn run(mut a: DemoArgs) -> anyhow::Result<ExitCode> {
    let t0 = Instant::now();
    // Demo defaults for the tiny model (20 epochs, lr 1e-3, cosine with warmup), unless the user set them: a randomly initialised ViT
    // needs centred inputs and a larger learning rate than fine-tuning (1e-5).
    if a.matrix.train.model.is_none() && a.weights.is_empty() {
        a.matrix.train.model = Some(cxr::train::ModelKind::Tiny);
        if a.matrix.train.lr == defaults().lr {
            a.matrix.train.lr = 1e-3;
        }
        if a.matrix.train.input_norm == defaults().input_norm {
            a.matrix.train.input_norm = cxr::model::InputNorm::Inception;
        }
        if a.matrix.train.epochs == defaults().epochs {
            a.matrix.train.epochs = 20;
        }
        if a.matrix.train.schedule == defaults().schedule {
            a.matrix.train.schedule = cxr::train::Schedule::Cosine;
            a.matrix.train.warmup_steps = a.matrix.train.warmup_steps.max(20);
        }
    }
    // Checked before anything is synthesized: the columns and, without --model, the
    // architecture of the columns that start from scratch (that of the first weights file).
    let mut inits = parse_weights(&a.weights)?;
    let scratch_model = match (a.matrix.train.model, inits.first().and_then(|s| s.weights.as_deref())) {
        (None, Some(w)) => Some(
            cxr::train::init::weights_kind::<cxr::runtime::Cpu>(w, a.size as usize, &cxr::runtime::cpu_device())
                .with_context(|| format!("--weights `{}`", w.display()))?,
        ),
        _ => None,
    };
    let prep = cxr::prep::demo::run_demo(&a.out, a.n, a.size, 0).context("synth + ingest failed")?;
    for s in &prep.ingests {
        eprint!("{s}");
    }
    let stats = cxr::stats::compute(&prep.store, None, None)?;
    let stats_text = render(&stats, Format::Table);
    cxr::fsutil::write_atomic(&a.out.join("stats.txt"), stats_text.as_bytes())?;
    eprintln!("label statistics: {}", a.out.join("stats.txt").display());

    inits.push(InitSpec { init: Init::Mimic, weights: None });
    inits.push(InitSpec { init: Init::Random, weights: None });
    let plan = BenchmarkPlan {
        datasets: prep.ingests.iter().map(|s| s.dataset.clone()).collect(),
        inits,
        template: a.matrix.template(prep.store.clone()),
        labels_arg: a.matrix.train.labels.clone(),
        views_arg: a.matrix.train.views.clone(),
        out: a.out.join("bench"),
        stats: a.matrix.stats(),
        alpha: 0.05,
        by: a.matrix.by.clone(),
        progress: !a.matrix.quiet,
        scratch_model,
    };
    let outcome = a.matrix.run(&plan, &[]).context("benchmark failed")?;
    cxr::outln!("{}", outcome.table.markdown(&plan.stats))?;
    cxr::outln!(
        "SYNTHETIC DATA, SMALL MODEL: {} images per dataset drawn by `cxr-prep synth` (not radiographs), a {} ViT at {} px, \
         {} epochs on CPU. The numbers show that the pipeline learns; they say nothing about the real datasets.",
        a.n,
        a.matrix.train.model.or(scratch_model).map(|m| format!("{m:?}")).unwrap_or_else(|| "pretrained".into()),
        a.size,
        a.matrix.train.epochs
    )?;
    cxr::outln!("table: {}\nreports and ROC plots: {}", outcome.markdown.display(), plan.out.join("reports").display())?;
    cxr::outln!("total {:.0} s", t0.elapsed().as_secs_f64())?;
    Ok(ExitCode::SUCCESS)
}
