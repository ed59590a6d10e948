namespace Transformer2.Models;
internal static class Placeholder { }
