using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace WeightSpace.MLNet;

/// <summary>The contrastive terms of METHOD §5 over the projections of two views, each [B, k].</summary>
internal static class ContrastiveLosses
{
    private static readonly Scalar MinusInfinity = float.NegativeInfinity.ToScalar();

    /// <summary>
    /// NT-Xent (SimCLR): cosine similarities of all 2B projections divided by τ; each sample's positive is its other
    /// view (the ±B off-diagonals), the other 2B − 2 are negatives; cross-entropy summed over the 2B rows, then / 2B.
    /// </summary>
    public static Tensor NtXent(Tensor viewA, Tensor viewB, Scalar inverseTemperature)
    {
        long b = viewA.shape[0];
        var z = functional.normalize(cat(new[] { viewA, viewB }, 0), 2, 1, 1e-12);  // [2B, k], unit rows
        var logits = z.matmul(z.t()).mul(inverseTemperature);
        var self = eye(2 * b, 2 * b, ScalarType.Bool);
        logits = logits.masked_fill(self, MinusInfinity);                           // a sample is not its own negative
        var positives = tensor(Enumerable.Range(0, (int)(2 * b)).Select(i => (long)((i + b) % (2 * b))).ToArray()); // row i's positive: i ± B
        return functional.cross_entropy(logits, positives, reduction: Reduction.Mean);
    }

    /// <summary>E_c+D's positive-only term: the views' projections pulled together, mean over the batch of (1 − cos).</summary>
    public static Tensor PositiveOnly(Tensor viewA, Tensor viewB) =>
        functional.cosine_similarity(viewA, viewB, 1, 1e-8).neg().mean();
}
