namespace Transformer2.Adaptation;
internal static class Placeholder { }
