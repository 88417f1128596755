//! Evaluating a program at a request's points: the answer's size bounded before anything
//! is allocated for it, one point by machine code once made, a batch by the batch
//! evaluator, and a large batch on a worker, stopping when the request's time runs out.

use std::sync::Arc;

use super::program::Program;
use super::{ApiError, Service};
use crate::engine::Budget;

/// Instruction-points past which a batch is evaluated on a worker rather than inline
/// (about a millisecond of work).
const INLINE_WORK: usize = 1_000_000;

/// Refuses an answer of `points` points of `program` that would hold more numbers than
/// `NABLA_MAX_ANSWER_VALUES`: checked before the points are read.
pub fn check_answer_size(
    service: &Service,
    program: &Program,
    points: usize,
) -> Result<(), ApiError> {
    let outputs = program.outputs().len();
    let numbers = points.saturating_mul(outputs);
    let limit = service.config.max_answer_values;
    if numbers > limit {
        return Err(ApiError::limit_exceeded(
            "max_answer_values",
            format!(
                "the answer would hold {numbers} numbers ({points} points of {outputs} outputs), over the limit of {limit}"
            ),
        ));
    }
    Ok(())
}

/// The outputs of `program` at `points` points whose inputs are `inputs`, row after row
/// (variables then parameters); the outputs likewise, in the order of
/// [`Program::outputs`].
pub async fn evaluate(
    service: &Arc<Service>,
    program: &Arc<Program>,
    inputs: Vec<f64>,
    points: usize,
    budget: &Budget,
) -> Result<Vec<f64>, ApiError> {
    let exe = program
        .tape
        .as_ref()
        .ok_or_else(|| ApiError::internal("a compute program without a tape"))?;
    let tape = exe.tape();
    let n_out = tape.outputs();
    if points.saturating_mul(tape.len()) > INLINE_WORK {
        let (program, config, budget) = (program.clone(), service.config.clone(), budget.clone());
        return service
            .workers
            .run(move || {
                let mut out = vec![0.0; points * n_out];
                if let Some(exe) = program.tape.as_ref() {
                    exe.tape()
                        .eval_batch_within(&inputs, &mut out, &budget)
                        .map_err(|e| ApiError::batch(e, &config))?;
                }
                Ok(out)
            })
            .await;
    }
    let mut out = vec![0.0; points * n_out];
    let done = if points == 1 {
        exe.eval_into(&inputs, &mut out, &mut Vec::new())
    } else {
        tape.eval_batch(&inputs, &mut out)
    };
    done.map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(out)
}
